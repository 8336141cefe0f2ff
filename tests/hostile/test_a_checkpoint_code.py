"""Defect 1: a checkpoint was loaded with ``weights_only=False``, so a planted file ran code on the
next resume or evaluate. Checkpoints now hold only tensors and plain data and are loaded as data."""

from __future__ import annotations

import os

import pytest
import torch

from tests.hostile.a_help import copy_run, one_line, train_once
from tests.training.trainhelp import rvhpc, train_args


class Planted:
    """Unpickling it would run a shell command (the attack of issue 10, item 1)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant(path, marker):
    torch.save({"format": 1, "epoch": 1, "x": Planted(marker)}, path)


@pytest.fixture
def run(tiny_store, tmp_path_factory, tmp_path):
    return copy_run(train_once(tiny_store, tmp_path_factory), tmp_path / "run")


def test_evaluate_refuses_planted_checkpoint(run, tmp_path):
    marker = tmp_path / "PWNED"
    plant(run / "checkpoints" / "epoch_001.pt", marker)
    proc = rvhpc("evaluate", run, "--device", "cpu")
    one_line(proc, 2, "epoch_001.pt", "other than tensors and plain data")
    assert not marker.exists(), "code from the checkpoint ran"


def test_train_resume_refuses_planted_partial(run, tiny_store, tmp_path):
    marker = tmp_path / "PWNED"
    (run / "DONE").unlink()
    plant(run / "checkpoints" / "partial.pt", marker)
    # a partial checkpoint of a later epoch is the one resume reads
    proc = rvhpc(*train_args(tiny_store, run, epochs=1))
    assert not marker.exists(), "code from the checkpoint ran"
    one_line(proc, 2, "partial.pt", "other than tensors and plain data")


def _plain(value, where="checkpoint"):
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, (str, int)), f"{where}: key {k!r}"
            _plain(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _plain(v, f"{where}[{i}]")
    else:
        assert value is None or isinstance(value, (torch.Tensor, str, int, float, bool)), (
            f"{where} is a {type(value).__name__}"
        )


def test_checkpoints_hold_only_tensors_and_plain_data(run):
    for path in sorted((run / "checkpoints").glob("*.pt")):
        payload = torch.load(path, weights_only=True)  # raises on anything but data
        assert payload["format"] == 2
        _plain(payload)


def test_no_unsafe_torch_load_in_the_package():
    import rvhpc

    root = os.path.dirname(rvhpc.__file__)
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                text = open(os.path.join(folder, name)).read()
                assert "weights_only=False" not in text, os.path.join(folder, name)
                for chunk in text.split("torch.load(")[1:]:
                    assert "weights_only=True" in chunk.split(")")[0], os.path.join(folder, name)


def test_evaluate_refuses_planted_reference_weights(tiny_store, tmp_path):
    marker = tmp_path / "PWNED"
    weights = tmp_path / "model_epoch30.pt"
    torch.save({"lstm.weight_ih": Planted(marker)}, weights)
    proc = rvhpc(
        "evaluate",
        "--reference-weights",
        weights,
        "--store",
        tiny_store,
        "--arch",
        "ea",
        "--static",
        "one_hot",
        "--out",
        tmp_path / "eval",
    )
    one_line(proc, 2, "model_epoch30.pt", "other than tensors and plain data")
    assert not marker.exists(), "code from the weights file ran"
