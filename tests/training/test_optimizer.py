"""Adam's kernel follows the numerics mode (rvhpc.training.optimizer): fused on a CPU in portable
numerics (an exact square root), torch's default in fast and on a GPU; a checkpoint written under
either kernel resumes under the resuming run's, with the same state."""

from __future__ import annotations

import pytest
import torch

from rvhpc.kernels import fused_adam
from rvhpc.training.optimizer import adam, load_state


def stepped(mode: str, steps: int = 3) -> tuple[torch.nn.Parameter, torch.optim.Adam]:
    param = torch.nn.Parameter(torch.linspace(-1.0, 1.0, 257))
    opt = adam([param], 1e-2, mode, torch.device("cpu"))
    for _ in range(steps):
        opt.zero_grad()
        (param**2).sum().backward()
        opt.step()
    return param, opt


@pytest.mark.parametrize(
    ("mode", "device", "fused"),
    [("portable", "cpu", True), ("fast", "cpu", False), ("portable", "cuda:0", False),
     (None, "cpu", False)],
)  # fmt: skip
def test_the_kernel_follows_mode_and_device(mode, device, fused):
    assert fused_adam(mode, torch.device(device)) is fused
    assert fused_adam(mode, device) is fused


@pytest.mark.parametrize(("writer", "reader"), [("fast", "portable"), ("portable", "fast")])
def test_a_checkpoint_resumes_under_the_resuming_runs_kernel(writer, reader):
    param, opt = stepped(writer)
    state = opt.state_dict()
    resumed = torch.nn.Parameter(param.detach().clone())
    other = adam([resumed], 1e-2, reader, torch.device("cpu"))
    load_state(other, state)
    assert bool(other.param_groups[0]["fused"]) is (reader == "portable")
    assert torch.equal(other.state[resumed]["exp_avg_sq"], opt.state[param]["exp_avg_sq"])
    other.zero_grad()
    (resumed**2).sum().backward()
    other.step()  # the state steps on under the other kernel
    assert int(other.state[resumed]["step"]) == 4


def test_both_kernels_compute_the_same_update():
    fused, _ = stepped("portable", steps=20)
    default, _ = stepped("fast", steps=20)
    assert torch.allclose(fused, default, rtol=1e-5, atol=1e-7)
