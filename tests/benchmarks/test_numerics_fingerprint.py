"""The numerics fingerprint (issue 23) must repeat its own hashes, and name the pieces that differ
from another CPU's file."""

from __future__ import annotations

import json

from benchmarks import numerics_fingerprint as fp


def test_fingerprint_repeats_and_names_what_differs(tmp_path):
    out = tmp_path / "fp.json"
    first = fp.main(["--out", str(out)])
    assert json.loads(out.read_text())["components"] == first["components"]
    assert len(first["components"]) > 30 and first["kernels"]["numerics"] == "portable"
    other = json.loads(out.read_text())
    other["components"]["mkl.addmm"] = "0" * 16
    other["components"]["train.ea.h32"] = "1" * 16
    (tmp_path / "other.json").write_text(json.dumps(other))
    again = fp.main(
        ["--out", str(tmp_path / "again.json"), "--compare", str(tmp_path / "other.json")]
    )
    assert again["components"] == first["components"]  # the same bits, run after run
    assert fp.compare(again, other) == ["mkl.addmm", "train.ea.h32"]
