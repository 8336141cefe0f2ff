"""Numerics modes (rvhpc.numerics): ``--numerics portable`` gives the same bits under every CPU
capability this machine can force, ``fast`` follows the capability; every run directory records
what produced it (provenance.json), and collect warns, naming the cells, when the seeds of an
experiment were computed on different kernel paths. Real ``rvhpc train`` processes throughout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rvhpc.kernels import cpu_flags
from tests.training.trainhelp import (
    assert_same_predictions,
    assert_same_weights,
    cli_env,
    rvhpc,
    train_args,
    weights,
)

#: the capabilities torch can be forced to here (ATEN_CPU_CAPABILITY)
CAPABILITIES = ["default", "avx2"] + (["avx512"] if cpu_flags()["avx512f"] else [])
ARCHS = {"ea": "physics", "ct": "physics"}  # the recurrence, and the LSTM kernel of CT/FM/LSTM


#: wide enough that the weight gradient of the recurrence (seq x batch x hidden x gates multiply-
#: adds) is over rvhpc.models.members.OPENBLAS_MIN_MACS: portable runs take OpenBLAS for it
WIDE = ("--hidden", "32", "--batch-size", "64")


def train(store: Path, out: Path, arch: str, numerics: str, capability: str) -> Path:
    args = train_args(store, out, "--arch", arch, "--static", ARCHS[arch], "--numerics", numerics)
    args += WIDE
    proc = rvhpc(*args, env=cli_env(ATEN_CPU_CAPABILITY=capability))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def runs(tiny_store, tmp_path_factory) -> dict[tuple[str, str, str], Path]:
    """(arch, numerics, capability) -> run dir: portable under every capability; fast under the
    lowest and the highest."""
    root = tmp_path_factory.mktemp("numerics")
    wanted = [(a, "portable", c) for a in ARCHS for c in CAPABILITIES]
    wanted += [(a, "fast", c) for a in ARCHS for c in ("default", CAPABILITIES[-1])]
    return {key: train(tiny_store, root / "-".join(key), *key) for key in wanted}


@pytest.mark.parametrize("arch", list(ARCHS))
def test_portable_gives_the_same_bits_under_every_capability(runs, arch):
    first = runs[(arch, "portable", CAPABILITIES[0])]
    for cap in CAPABILITIES[1:]:
        other = runs[(arch, "portable", cap)]
        for epoch in (1, 2):
            assert_same_weights(weights(other, epoch), weights(first, epoch))
        assert_same_predictions(other, first)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_fast_follows_the_capability(runs, arch):
    """What portable protects against: fast at torch's lowest and highest kernel level computes
    other bits (without this, the test above could not fail)."""
    low, high = runs[(arch, "fast", "default")], runs[(arch, "fast", CAPABILITIES[-1])]
    a, b = weights(low, 2), weights(high, 2)
    assert any(not (a[k] == b[k]).all() for k in a), "fast gave the same bits at both levels"


def session(run_dir: Path) -> dict:
    sessions = json.loads((run_dir / "provenance.json").read_text())["sessions"]
    assert len(sessions) == 1 and sessions[0]["from_epoch"] == 0
    (record,) = sessions[0]["ranks"]
    return record


def test_provenance_records_what_produced_the_run(runs):
    portable = session(runs[("ct", "portable", "default")])
    assert portable["numerics"] == "portable"
    assert portable["capability"] == "AVX2"  # whatever ATEN_CPU_CAPABILITY said
    assert portable["mkl_cbwr"] == "COMPATIBLE,STRICT"
    assert portable["matmul"] == "openblas-haswell+mkl" and portable["lstm_kernel"] == "recurrence"
    assert portable["onednn_enabled"] is False
    assert portable["numpy_dispatch"] == "avx2" and portable["openblas_coretype"] == "Haswell"
    assert portable["denormals"] == "flushed" and portable["adam"] == "fused"
    assert portable["threads"] == 1 and portable["device"] == "cpu"
    assert portable["cpu"] == cpu_flags()["model"]
    for key in ("torch", "mkl", "onednn", "numpy", "host"):
        assert portable[key], key
    fast = session(runs[("ct", "fast", CAPABILITIES[-1])])
    assert fast["numerics"] == "fast" and fast["capability"] == CAPABILITIES[-1].upper()
    assert fast["lstm_kernel"] == "onednn-rnn" and fast["onednn_enabled"] is True
    assert fast["matmul"] == ("onednn" if CAPABILITIES[-1] == "avx512" else "mkl")
    assert fast["adam"] == "default"
    config = json.loads((runs[("ct", "fast", "default")] / "config.json").read_text())
    assert config["numerics"] == "fast"


def test_a_resume_adds_a_session(tiny_store, tmp_path):
    out = tmp_path / "run"
    proc = rvhpc(*train_args(tiny_store, out))
    assert proc.returncode == 0, proc.stderr
    for name in ("DONE", "checkpoints/epoch_002.pt"):  # as if stopped after epoch 1
        (out / name).unlink()
    proc = rvhpc(*train_args(tiny_store, out, "--numerics", "fast"))
    assert proc.returncode == 0, proc.stderr  # numerics is a runtime setting: the run resumes
    sessions = json.loads((out / "provenance.json").read_text())["sessions"]
    assert [s["from_epoch"] for s in sessions] == [0, 1]
    assert [s["ranks"][0]["numerics"] for s in sessions] == ["portable", "fast"]
    assert [s["ranks"][0]["adam"] for s in sessions] == ["fused", "default"]


def collect(source: Path, out: Path):
    return rvhpc("collect", source, "--out", out, "--workers", "1", timeout=600)


def test_collect_warns_naming_the_cells_of_mixed_kernel_paths(runs, tmp_path):
    root = tmp_path / "runs"
    copy_run(runs[("ea", "portable", "avx2")], root / "seed0", seed=0)
    copy_run(runs[("ea", "fast", "default")], root / "seed1", seed=1)
    proc = collect(root, tmp_path / "results")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if "warning: experiment EP" in line]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "seed0: portable" in lines[0] and "seed1: fast" in lines[0], lines[0]
    assert "1 warning(s)" in proc.stdout
    assert "experiment EP" in (tmp_path / "results" / "warnings.txt").read_text()
    # seeds on one path (portable: whatever the capability): no warning, no stale warnings.txt
    shutil.rmtree(root / "seed1")
    copy_run(runs[("ea", "portable", "default")], root / "seed1", seed=1)
    proc = collect(root, tmp_path / "results")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warning:" not in proc.stderr and "0 warning(s)" in proc.stdout
    assert not (tmp_path / "results" / "warnings.txt").exists()


def copy_run(run_dir: Path, to: Path, seed: int) -> None:
    """A finished run as if trained with init seed ``seed`` (collect reads the seed from
    config.json; predictions, DONE and provenance stay the run's own)."""
    shutil.copytree(run_dir, to)
    config = json.loads((to / "config.json").read_text())
    (to / "config.json").write_text(json.dumps({**config, "seed": seed}))


def test_bad_numerics_is_one_line(tiny_store, tmp_path):
    proc = rvhpc(*train_args(tiny_store, tmp_path / "run", "--numerics", "exact"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --numerics 'exact': choose one of portable, fast"
    assert not (tmp_path / "run").exists()
