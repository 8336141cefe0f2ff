"""Names of the paper's experiments, shared by the grid, training and collect.

An *experiment* is one architecture with one static vector (kind, dimension, attr_seed); it is
trained with several init seeds and the seeds are ensembled. Names follow the paper's table
(reference.md section 1): EP, EG-64, EO, EM-64, CP, CG-64, CO, PEA, REA, FP, FG-64, FO, LSTM.
"""

from __future__ import annotations

from rvhpc.data.statics import STATIC_KINDS as KINDS
from rvhpc.data.statics import check_kind
from rvhpc.errors import ConfigError

#: static kind names, in the table's order (rvhpc.data.statics.STATIC_KINDS is the one table)
STATIC_KINDS = tuple(KINDS)
#: static kinds that need a dimension ``d``
KINDS_WITH_DIM = tuple(k for k, v in KINDS.items() if v.takes_dim)
#: folder names of the original code's results layout (reference.md section 5)
STATIC_DIRNAMES = {k: v.dirname for k, v in KINDS.items()}

_ARCH_LETTER = {"ea": "E", "ct": "C", "fm": "F"}


def archs() -> tuple[str, ...]:
    """The architectures of the model registry (rvhpc.models.registry.MODELS), in its order."""
    from rvhpc.models.registry import MODELS

    return tuple(MODELS)


def supported_statics(arch: str) -> tuple[str, ...]:
    """Static kinds an architecture can take: a model without static input (``lstm``) only
    ``none``, the others any real vector."""
    from rvhpc.models.registry import model_class

    if model_class(arch).uses_static:
        return tuple(k for k in STATIC_KINDS if k != "none")
    return ("none",)


def check_cell(arch: str, static: str, dim: int | None, n_descriptors: int | None = None) -> None:
    """Raise ConfigError when an (arch, static, dim) combination cannot be trained
    (``n_descriptors``: the data's, when known, bounds mixed vectors)."""
    if static not in STATIC_KINDS:
        raise ConfigError(
            f"unknown static kind {static!r}: choose one of {', '.join(STATIC_KINDS)}"
        )
    if arch not in archs():
        raise ConfigError(f"unknown architecture {arch!r}: choose one of {', '.join(archs())}")
    if static not in supported_statics(arch):
        hint = " (use arch 'lstm' for no static vector)" if static == "none" else ""
        raise ConfigError(f"architecture {arch!r} does not support static kind {static!r}{hint}")
    check_kind(static, dim, 0, n_descriptors)


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
    name = letter + KINDS[static].letter
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
