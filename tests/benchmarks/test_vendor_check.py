"""Portable numerics do not follow the CPU vendor libraries see (issue 23): with every library's
cpuid answered as an AMD EPYC's, the portable building blocks keep their bits, while fast ones
(MKL's own dispatch) change, which shows the shim took effect."""

from __future__ import annotations

import pytest

from benchmarks import vendor_check

WHY = vendor_check.unavailable()


@pytest.mark.skipif(WHY is not None, reason=f"needs an Intel CPU with CPUID faulting: {WHY}")
def test_portable_bits_do_not_follow_the_vendor_the_libraries_see():
    result = vendor_check.check()
    assert result["portable"]["differ"] == [], result["portable"]
    assert result["portable"]["components"] > 30
    # MKL's own dispatch (VML's tanh/exp, LAPACK's QR in the initialisation) sees the AMD CPU
    assert "torch.tanh" in result["fast"]["differ"], result["fast"]
    assert any(k.startswith("init.") for k in result["fast"]["differ"]), result["fast"]
