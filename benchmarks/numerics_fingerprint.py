"""Fingerprints of every building block of a portable training run, to find which one gives other
bits on another kind of CPU (issue 23).

The portable demo gave one ``paper_table.md`` on an AMD EPYC (Zen 4) and another on an Intel Xeon
(AVX-512, AMX), same software, same seeds: some piece of the portable path still depends on the
CPU. A whole run cannot say which, and two kinds of CPU are never lent to one session. So this
script hashes the outputs of each piece alone (random draws, weight initialisation, torch's AVX2
pointwise kernels, MKL's ``COMPATIBLE`` products, OpenBLAS's Haswell products, numpy's float64
functions, a few training steps of each architecture) in portable numerics on one thread, and
writes them with the CPU's name. Run it on another kind of CPU and compare: the first piece whose
hash differs is where the path forks.

    python -m benchmarks.numerics_fingerprint [--out FILE] [--compare OTHER.json] [--mode fast]

Results of the CPUs it ran on: ``benchmarks/results/fingerprint_<vendor>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from benchmarks.bench_numerics import per_vendor
from rvhpc import numerics

ARCHS = ("ea", "sr", "ct", "fm", "lstm")


def digest(x) -> str:
    """sha256 (16 hex digits) of an array's or tensor's dtype, shape and bytes."""
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        x = x.detach().contiguous().numpy()
    x = np.ascontiguousarray(x)
    head = f"{x.dtype}{x.shape}".encode()
    return hashlib.sha256(head + x.tobytes()).hexdigest()[:16]


def random_draws() -> dict[str, str]:
    import numpy as np
    import torch

    out = {}
    for name, draw in {
        "torch.rand": lambda g: torch.rand(4099, generator=g),
        "torch.randn": lambda g: torch.randn(4099, generator=g),
        "torch.bernoulli_": lambda g: torch.empty(4099).bernoulli_(0.6, generator=g),
        "torch.randperm": lambda g: torch.randperm(5000, generator=g),
    }.items():
        out[name] = digest(draw(torch.Generator().manual_seed(7)))
    rng = np.random.default_rng(7)
    out["numpy.random"] = digest(np.stack([rng.random(4099), rng.standard_normal(4099)]))
    return out


def pointwise() -> dict[str, str]:
    """torch's float32 kernels on values that reach the tails, the denormal range included.

    ``torch.sqrt`` goes through MKL's vector math, which starts it from ``rsqrtps``: its hash is
    expected to differ between CPU makers. Training no longer takes it (Adam is fused in portable
    numerics; ``benchmarks/inexact_audit.py`` checks that no such instruction runs)."""
    import torch

    g = torch.Generator().manual_seed(1)
    x = torch.cat([torch.randn(4099, generator=g) * 8, torch.tensor([1e-39, -3e-40, 88.0, -104])])
    y = torch.rand(x.shape, generator=g)
    ops = {
        "sigmoid": lambda: x.sigmoid(),
        "tanh": lambda: x.tanh(),
        "exp": lambda: x.exp(),
        "log": lambda: (x.abs() + 1e-3).log(),
        "sqrt": lambda: x.abs().sqrt(),
        "div": lambda: x / (y + 0.5),
        "addcmul": lambda: x.addcmul(x, y, value=-0.5),
        "sum": lambda: x.sum(),
        "mean_dim": lambda: x[:4096].view(64, 64).mean(0),
        "norm": lambda: x.norm(),
        "pow": lambda: (x.abs() + 1).pow(1.7),
    }
    return {f"torch.{k}": digest(f()) for k, f in ops.items()}


def products() -> dict[str, str]:
    """MKL (torch.mm/addmm/bmm, the small products) and OpenBLAS (the large ones)."""
    import torch

    from rvhpc.kernels import set_openblas_threads
    from rvhpc.models.members import _blas_mm

    g = torch.Generator().manual_seed(2)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    a, w, b = r(256, 32), r(32, 96), r(96)
    out = {
        "mkl.mm": digest(torch.mm(a, w)),
        "mkl.addmm": digest(torch.addmm(b, a, w)),
        "mkl.mm_t": digest(torch.mm(r(256, 96), w.t())),
        "mkl.bmm": digest(torch.bmm(r(3, 256, 27), r(3, 27, 32))),
        "mkl.linear_27": digest(torch.nn.functional.linear(r(256, 27), r(32, 27), r(32))),
    }
    set_openblas_threads(1)
    out["openblas.step"] = digest(_blas_mm(r(256, 256), r(256, 768)))
    out["openblas.skinny"] = digest(_blas_mm(r(5, 8192), r(8192, 96)))
    out["openblas.wide_k"] = digest(_blas_mm(r(256, 4096), r(4096, 768)))
    return out


def numpy_float64() -> dict[str, str]:
    import numpy as np

    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(10001), rng.standard_normal(10001)
    return {
        "numpy.exp": digest(np.exp(x * 5)),
        "numpy.log": digest(np.log(np.abs(x) + 1e-3)),
        "numpy.power": digest(np.power(np.abs(x) + 1, 1.7)),
        "numpy.mean_std": digest(np.array([x.mean(), x.std(), np.median(x)])),
        "numpy.corrcoef": digest(np.corrcoef(x, y)),
        "numpy.sort": digest(np.argsort(np.round(x, 1), kind="quicksort")),
    }


def training() -> dict[str, str]:
    """Weights after a few training steps of each architecture at the demo's shape (MKL steps),
    and of EA at a width whose products go to OpenBLAS; the initial weights too."""
    import torch

    from rvhpc.training.bench import BenchPack, synthetic_store

    store = synthetic_store(n_basins=8, train_days=200, seq_length=90)
    out = {}
    shapes = [(arch, 32) for arch in ARCHS] + [("ea", 256)]
    for arch, hidden in shapes:
        pack = BenchPack(arch, 1, 27, hidden, 64, 90, torch.device("cpu"), store, seed=0)
        params = torch.cat([p.detach().flatten() for p in pack.pack.parameters()])
        out[f"init.{arch}.h{hidden}"] = digest(params)
        for _ in range(3):
            pack.step()
        params = torch.cat([p.detach().flatten() for p in pack.pack.parameters()])
        out[f"train.{arch}.h{hidden}"] = digest(params)
    return out


def fingerprint(mode: str = "portable") -> dict:
    numerics.enter(mode)
    import torch

    from rvhpc.kernels import cpu_flags, record

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        kernels = record(torch.device("cpu"), mode)
        parts = {}
        for part in (random_draws, pointwise, products, numpy_float64, training):
            parts |= part()
    finally:
        torch.set_num_threads(threads)
    return {"cpu": cpu_flags(), "kernels": kernels, "components": parts}


def compare(ours: dict, theirs: dict) -> list[str]:
    """The components whose hashes differ, in the order they were computed."""
    a, b = ours["components"], theirs["components"]
    return [k for k in a if k in b and a[k] != b[k]]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="default: results/fingerprint_<vendor>.json")
    parser.add_argument("--compare", type=Path, help="a fingerprint from another CPU")
    parser.add_argument("--mode", choices=numerics.MODES, default="portable")
    args = parser.parse_args(argv)
    result = fingerprint(args.mode)
    out = args.out or per_vendor("fingerprint", result["cpu"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"{len(result['components'])} components of {result['cpu']['model']} -> {out}")
    if args.compare:
        theirs = json.loads(args.compare.read_text())
        differ = compare(result, theirs)
        same = len(result["components"]) - len(differ)
        print(f"against {theirs['cpu']['model']}: {same} the same, {len(differ)} differ")
        for key in differ:
            print(f"  differs: {key}")
    return result


if __name__ == "__main__":
    main()
