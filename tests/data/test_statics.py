"""Static vectors: shapes, determinism, standardisation (reference.md section 3)."""

from __future__ import annotations

import numpy as np
import pytest

from rvhpc.data.camels import DESCRIPTORS
from rvhpc.data.statics import STATIC_BUILDERS, build_statics
from rvhpc.data.store import open_store
from rvhpc.errors import ConfigError
from rvhpc.experiments import STATIC_KINDS


@pytest.fixture(scope="module")
def store(tiny_store):
    return open_store(tiny_store)


def _standardised(v):
    np.testing.assert_allclose(v.mean(0), 0, atol=1e-6)
    std = v.std(0, ddof=1)
    assert np.all((np.abs(std - 1) < 1e-5) | (std == 0))


def test_registry_matches_experiment_kinds():
    assert tuple(STATIC_BUILDERS) == STATIC_KINDS


def test_physics(store):
    s = build_statics("physics", store)
    assert s.values.shape == (4, 27) and s.values.dtype == np.float32 and s.dim == 27
    assert s.names == list(DESCRIPTORS) and s.basins == store.basins
    _standardised(s.values)
    raw = store.descriptors
    expected = (raw - raw.mean(0)) / np.where(raw.std(0, ddof=1) > 0, raw.std(0, ddof=1), 1)
    np.testing.assert_allclose(s.values, expected, rtol=1e-5, atol=1e-6)


def test_zero_std_becomes_one(tiny_store):
    store = open_store(tiny_store)
    store.descriptors = store.descriptors.copy()
    store.descriptors[:, 3] = 7.0
    s = build_statics("physics", store)
    np.testing.assert_array_equal(s.values[:, 3], 0.0)


def test_gaussian_deterministic_and_seeded(store):
    a, b = (
        build_statics("gaussian", store, dim=16, attr_seed=3),
        build_statics("gaussian", store, dim=16, attr_seed=3),
    )
    c = build_statics("gaussian", store, dim=16, attr_seed=4)
    assert a.values.shape == (4, 16) and np.array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    _standardised(a.values)
    draw = np.random.default_rng(3).standard_normal((4, 16))
    np.testing.assert_allclose(
        a.values, (draw - draw.mean(0)) / draw.std(0, ddof=1), rtol=1e-5, atol=1e-6
    )


def test_mixed(store):
    s = build_statics("mixed", store, dim=32, attr_seed=1)
    assert (
        s.values.shape == (4, 32) and s.names[:27] == list(DESCRIPTORS) and s.names[27] == "rv_000"
    )
    np.testing.assert_allclose(
        s.values[:, :27], build_statics("physics", store).values, rtol=1e-5, atol=1e-6
    )
    draw = np.random.default_rng(1).standard_normal((4, 5))
    np.testing.assert_allclose(
        s.values[:, 27:], (draw - draw.mean(0)) / draw.std(0, ddof=1), rtol=1e-5, atol=1e-6
    )


def test_one_hot_and_none(store):
    s = build_statics("one_hot", store)
    np.testing.assert_array_equal(s.values, np.eye(4, dtype=np.float32))
    n = build_statics("none", store)
    assert n.values is None and n.dim == 0 and n.basins == store.basins


@pytest.mark.parametrize(
    "kind, dim, message",
    [
        ("physic", None, "unknown static kind"),
        ("gaussian", None, "needs a dimension"),
        ("mixed", 27, "must be >= 28"),
        ("gaussian", 0, "must be positive"),
    ],
)
def test_bad_arguments(store, kind, dim, message):
    with pytest.raises(ConfigError, match=message):
        build_statics(kind, store, dim=dim)
