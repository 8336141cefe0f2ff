"""Every architecture trains on a Caravan store with physics, gaussian and one-hot vectors,
through the real CLI (in this process): input widths come from the store, basin ids of any form
reach the predictions as written, and static vectors work at Caravan's size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.data.statics import STATIC_KINDS, build_statics, gaussian_draw
from rvhpc.data.store import open_store
from rvhpc.experiments import archs, supported_statics
from rvhpc.training.factory import model_for
from tests.training.trainhelp import TINY

CELLS = [
    (arch, static)
    for arch in ("ea", "ct", "sr", "fm", "lstm")
    for static in ("physics", "gaussian", "one_hot", "none")
    if static in supported_statics(arch)
]


def test_every_architecture_is_covered():
    assert {a for a, _ in CELLS} == set(archs())


@pytest.mark.parametrize("arch, static", CELLS, ids=lambda v: str(v))
def test_train_on_caravan(caravan_store, tmp_path, arch, static):
    out = tmp_path / "run"
    dim = ["--dim", "6"] if static == "gaussian" else []
    args = ["train", "--store", str(caravan_store), "--out", str(out), "--epochs", "1", *TINY]
    result = CliRunner().invoke(app, [*args, "--arch", arch, "--static", static, *dim])
    assert result.exit_code == 0, result.output
    predictions = pd.read_parquet(out / "predictions.parquet")
    store = open_store(caravan_store)
    assert sorted(predictions["basin"].unique()) == sorted(store.basins)  # GRDC_..., lamah_...
    assert np.isfinite(predictions["qsim"]).all()


class _Global:
    """A store of Caravan's size without series (static vectors need basins and descriptors)."""

    def __init__(self, n: int, d: int) -> None:
        rng = np.random.default_rng(0)
        self.basins = [f"hysets_{k:08d}" for k in range(n)]
        self.descriptors = rng.normal(size=(n, d))
        self.descriptor_names = [f"d{k}" for k in range(d)]
        self.forcing = np.zeros((n, 0, 7), np.float32)  # 7 inputs: not the CAMELS five

    @property
    def n_inputs(self) -> int:
        return self.forcing.shape[2]


def test_static_vectors_at_global_scale():
    n, d = 6830, 21
    store = _Global(n, d)
    one_hot = build_statics("one_hot", store)
    assert one_hot.values.shape == (n, n) and one_hot.values.dtype == np.float32
    assert one_hot.values.nbytes == n * n * 4 and (one_hot.values.sum(axis=1) == 1).all()
    gauss = build_statics("gaussian", store, dim=64, attr_seed=7)
    np.random.seed(7)  # the original code's legacy draw, bit for bit at 6,830 basins
    legacy = np.random.normal(0, 1, size=(n, 64))
    np.testing.assert_array_equal(gaussian_draw(n, 64, 7), legacy)
    assert gauss.values.shape == (n, 64)
    mixed = build_statics("mixed", store, dim=d + 3, attr_seed=1)
    assert mixed.values.shape == (n, d + 3) and STATIC_KINDS["mixed"].min_dim(d) == d + 1
    for arch in ("ea", "ct", "sr", "fm"):  # a step of every architecture with 6,830 one-hot columns
        torch.manual_seed(0)
        model = model_for(store, arch, n, hidden=4, dropout=0.0)
        assert model.n_dynamic == store.n_inputs  # the width comes from the store
        x_s = torch.from_numpy(one_hot.values[:8])
        loss = model(torch.randn(8, 5, store.n_inputs), x_s).square().mean()
        loss.backward()
        assert torch.isfinite(loss)
