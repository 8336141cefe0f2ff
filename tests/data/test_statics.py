"""Static vectors: shapes, determinism, standardisation (reference.md section 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rvhpc.data.camels import DESCRIPTORS
from rvhpc.data.statics import STATIC_KINDS as KIND_TABLE
from rvhpc.data.statics import build_statics, gaussian_draw
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
    assert tuple(KIND_TABLE) == STATIC_KINDS


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


def _legacy_draw(seed, shape):
    """The original code's draw, through numpy's global legacy generator."""
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        return np.random.normal(0, 1, size=shape)
    finally:
        np.random.set_state(state)


def _original_standardised(values):
    """The original's CamelsH5._load_attributes: pandas mean/std, zero std -> 1, float32."""
    df = pd.DataFrame(values)
    std = df.std()
    std[std == 0.0] = 1
    return ((df - df.mean()) / std).to_numpy().astype(np.float32)


def test_gaussian_deterministic_and_seeded(store):
    a, b = (
        build_statics("gaussian", store, dim=16, attr_seed=3),
        build_statics("gaussian", store, dim=16, attr_seed=3),
    )
    c = build_statics("gaussian", store, dim=16, attr_seed=4)
    assert a.values.shape == (4, 16) and np.array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    _standardised(a.values)


@pytest.mark.parametrize("attr_seed", [0, 3, 123456, 2**32 - 1])
def test_gaussian_is_the_legacy_numpy_draw_bit_for_bit(store, attr_seed):
    draw = _legacy_draw(attr_seed, (4, 16))
    np.testing.assert_array_equal(gaussian_draw(4, 16, attr_seed), draw)
    s = build_statics("gaussian", store, dim=16, attr_seed=attr_seed)
    np.testing.assert_array_equal(s.values, _original_standardised(draw))


def test_drawing_leaves_numpy_global_state_alone(store):
    np.random.seed(11)
    expected = np.random.random_sample(3)
    np.random.seed(11)
    build_statics("gaussian", store, dim=8, attr_seed=5)
    np.testing.assert_array_equal(np.random.random_sample(3), expected)


def test_mixed_is_descriptors_then_the_legacy_draw_bit_for_bit(store):
    s = build_statics("mixed", store, dim=32, attr_seed=1)
    assert (
        s.values.shape == (4, 32) and s.names[:27] == list(DESCRIPTORS) and s.names[27] == "rv_000"
    )
    draw = _legacy_draw(1, (4, 5))
    table = np.concatenate([store.descriptors, draw], axis=1)
    np.testing.assert_array_equal(s.values, _original_standardised(table))
    np.testing.assert_array_equal(s.values[:, :27], build_statics("physics", store).values)


def test_attr_seed_outside_numpys_range_is_one_line(store):
    with pytest.raises(ConfigError, match="attr_seed must be in 0..2"):
        build_statics("gaussian", store, dim=4, attr_seed=-1)


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


def test_one_standardisation_keeps_todays_bits(store):
    """Physics vectors keep the bits of rvhpc at 4605e86 (pandas' ``(df - df.mean()) / df.std()``
    in statics.standardise), and held-out basins use the same statistics of the training basins
    (at 4605e86 a numpy mean/std that differed from them in the last bits)."""
    from rvhpc.data.statics import column_stats, standardise

    np.testing.assert_array_equal(
        build_statics("physics", store).values, _original_standardised(store.descriptors)
    )
    train, held = store.descriptors[:3], store.descriptors[3:]
    frame = pd.DataFrame(train)
    std = frame.std()
    std[std == 0.0] = 1
    want = ((pd.DataFrame(held) - frame.mean()) / std).to_numpy()
    np.testing.assert_array_equal(standardise(held, column_stats(train)), want)
    wide = np.random.default_rng(0).normal(size=(6830, 64)) * 7 + 3  # Caravan's size
    np.testing.assert_array_equal(
        standardise(wide).astype(np.float32), _original_standardised(wide)
    )
