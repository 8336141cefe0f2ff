"""Names of the paper's experiments, shared by the grid, training and collect.

An *experiment* is one architecture with one static vector (kind, dimension, attr_seed); it is
trained with several init seeds and the seeds are ensembled. Names follow the paper's table
(reference.md section 1): EP, EG-64, EO, EM-64, CP, CG-64, CO, PEA, REA, FP, FG-64, FO, LSTM.
"""

from __future__ import annotations

from rvhpc.errors import ConfigError

ARCHS = ("ea", "ct", "sr", "fm", "lstm")
STATIC_KINDS = ("physics", "gaussian", "mixed", "one_hot", "none")
#: static kinds that need a dimension ``d``
KINDS_WITH_DIM = ("gaussian", "mixed")

#: folder names of the original code's results layout (reference.md section 5)
STATIC_DIRNAMES = {
    "physics": "physics",
    "gaussian": "num_of_sf",
    "mixed": "mixed",
    "one_hot": "one_hot",
    "none": "no_static",
}

_ARCH_LETTER = {"ea": "E", "ct": "C", "fm": "F"}
_KIND_LETTER = {"physics": "P", "gaussian": "G", "mixed": "M", "one_hot": "O"}


def supported_statics(arch: str) -> tuple[str, ...]:
    """Static kinds an architecture can take: ``lstm`` only ``none``, the others any real vector."""
    if arch not in ARCHS:
        raise ConfigError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHS)}")
    if arch == "lstm":
        return ("none",)
    return tuple(k for k in STATIC_KINDS if k != "none")


def check_cell(arch: str, static: str, dim: int | None) -> None:
    """Raise ConfigError when an (arch, static, dim) combination cannot be trained."""
    if static not in STATIC_KINDS:
        raise ConfigError(
            f"unknown static kind {static!r}: choose one of {', '.join(STATIC_KINDS)}"
        )
    if static not in supported_statics(arch):
        hint = " (use arch 'lstm' for no static vector)" if static == "none" else ""
        raise ConfigError(f"architecture {arch!r} does not support static kind {static!r}{hint}")
    if static in KINDS_WITH_DIM:
        if dim is None:
            raise ConfigError(
                f"static kind {static!r} needs a dimension: pass --dim D (e.g. --dim 64)"
            )
        if dim < 1:
            raise ConfigError(f"--dim must be positive, got {dim}")
        if static == "mixed" and dim < 28:
            raise ConfigError(
                f"mixed vectors hold the 27 descriptors plus at least one Gaussian column: "
                f"--dim must be >= 28, got {dim}"
            )
    elif dim is not None:
        raise ConfigError(f"static kind {static!r} takes no dimension: drop --dim {dim}")


def experiment_name(arch: str, static: str, dim: int | None = None) -> str:
    """The paper's name of an experiment, e.g. ``EG-64``, ``PEA``, ``LSTM``."""
    if static == "none":
        return "LSTM" if arch in ("lstm", "ea") else f"{arch.upper()}-none"
    if arch == "sr":
        return (
            "PEA"
            if static == "physics"
            else (
                "REA"
                if static == "gaussian" and dim in (None, 27)
                else f"SR-{static}" + (f"-{dim}" if dim else "")
            )
        )
    letter = _ARCH_LETTER.get(arch, arch.upper())
    name = letter + _KIND_LETTER[static]
    return f"{name}-{dim}" if static in KINDS_WITH_DIM else name


def seed_dir(seed: int) -> str:
    """The folder of one init seed's run.

    Parameters
    ----------
    seed : int
        The init seed.

    Returns
    -------
    str
        ``seed<N>``: the original code's layout, the last level of :func:`run_subdir`, and each
        member's folder of ``rvhpc train --seeds``.
    """
    return f"seed{seed}"


def run_subdir(
    basin_list: str,
    arch: str,
    static: str,
    dim: int | None,
    attr_seed: int | None,
    seed: int,
    point: str | None = None,
) -> str:
    """Relative run directory, mirroring the original code's layout (reference.md section 5):
    ``<basin list>/<arch>/<static dir>/[<d>/<attr_seed>/]seed<N>``. The plain LSTM (no statics)
    has no architecture level, as in the original's ``main.py``: ``<basin list>/no_static/seed<N>``.
    A sweep point or search trial (``hidden=64,dropout=0.4``, ``trial=3``) is one more folder
    before the seed's, so the seeds of a point sit together and nothing else moves.
    """
    tail = ([point] if point else []) + [seed_dir(seed)]
    if arch == "lstm":
        return "/".join([basin_list, STATIC_DIRNAMES["none"], *tail])
    parts = [basin_list, arch, STATIC_DIRNAMES[static]]
    if static in KINDS_WITH_DIM:
        parts += [str(dim), str(attr_seed if attr_seed is not None else 0)]
    return "/".join(parts + tail)
