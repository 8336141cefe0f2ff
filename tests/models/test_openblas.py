"""Portable numerics put the recurrence's large products on numpy's OpenBLAS (Haswell kernels):
they must match the reference equations like the MKL path does, be taken where the docs say,
and give the same bits whatever OpenBLAS's thread count."""

from __future__ import annotations

import pytest
import torch

from rvhpc import kernels
from rvhpc.models import members
from tests.models.test_models import ARCHS, gradients_and_reference


@pytest.fixture
def openblas_everywhere(monkeypatch):
    """Every product of the recurrence on OpenBLAS (the models' test shapes are below the
    threshold), in the portable mode the test session runs in."""
    assert kernels.openblas_matmul(), "the tests run in portable numerics (tests/conftest.py)"
    monkeypatch.setattr(members, "OPENBLAS_MIN_MACS", 0)
    calls = []
    real = members._blas_mm
    monkeypatch.setattr(members, "_blas_mm", lambda *args: calls.append(1) or real(*args))
    return calls


@pytest.mark.parametrize("arch", ARCHS)
def test_openblas_gradients_match_the_reference(arch, openblas_everywhere):
    ours, ref = gradients_and_reference(arch)
    for key, value in ref.items():
        assert torch.allclose(ours[key].double(), value.grad, atol=1e-4, rtol=1e-4), key
    recurrent = arch not in ("lstm", "ct", "fm") or not kernels.onednn_rnn()
    assert bool(openblas_everywhere) == recurrent, "the recurrence's products went elsewhere"


def test_the_choice_depends_on_the_shape_only():
    paper, demo = torch.empty(256, 256), torch.empty(256, 32)
    assert members.uses_openblas(paper, 768)  # the paper's step product
    assert not members.uses_openblas(demo, 96)  # the demo's: numpy's call costs more
    assert not members.uses_openblas(paper.double(), 768)


def test_openblas_gets_torchs_thread_count(openblas_everywhere):
    """OpenBLAS's bits depend on its thread count (1 and 2 threads differ in 9% of a
    [256, 256] x [256, 768] product here), so a recurrence hands it torch's count, which the
    provenance records and the bit-for-bit promise names; each count repeats its own bits."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 256, generator=gen), torch.randn(256, 768, generator=gen)
    results = {}
    for n in (1, 2, 1, 2):
        kernels.set_openblas_threads(n)
        got = members._blas_mm(a, b)
        assert n not in results or torch.equal(results[n], got), f"{n} thread(s) did not repeat"
        results[n] = got
    assert not torch.equal(results[1], results[2])  # why the count is handed over
    old = torch.get_num_threads()
    try:
        for n in (2, 1):
            torch.set_num_threads(n)
            with members.blas_threads(a):
                assert torch.get_num_threads() == 1 and kernels.openblas_threads() == n
            assert torch.get_num_threads() == n
    finally:
        torch.set_num_threads(old)


def test_numpys_openblas_is_found_beside_scipys():
    """scipy's wheels load an OpenBLAS of their own (other symbols, 32-bit ints); in a process
    that mapped it at a lower address a portable run once failed to set the thread count. The
    one rvhpc drives must be numpy's, the library ``np.matmul`` computes on."""
    import subprocess
    import sys

    from rvhpc.numerics import child_environment

    code = (
        "import scipy.linalg, numpy, torch\n"
        "from rvhpc import kernels\n"
        "kernels.set_openblas_threads(2); assert kernels.openblas_threads() == 2\n"
        "kernels.set_openblas_threads(1); assert kernels.openblas_threads() == 1\n"
        "print(kernels._openblas()._name)\n"
    )
    env = child_environment("portable")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "numpy.libs" in out.stdout or "scipy_openblas64_" in out.stdout, out.stdout
    maps_order = subprocess.run(
        [sys.executable, "-c", "import scipy.linalg, numpy; print(open('/proc/self/maps').read())"],
        env=env, capture_output=True, text=True,
    ).stdout  # fmt: skip
    libs = [line.split()[-1] for line in maps_order.splitlines() if "openblas" in line.lower()]
    assert len(set(libs)) == 2, "scipy and numpy each bring an OpenBLAS (the case under test)"
