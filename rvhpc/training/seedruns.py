"""The runs of ``rvhpc train``: one run, or several seeds trained as one pack (``--seeds``).

The layout of a pack is decided here, not by the command line: member k of ``--seeds`` writes
``OUT/seed<k>/`` (:func:`rvhpc.experiments.seed_dir`, the last level of a grid's run directory),
exactly what ``--seed k --out OUT/seed<k>`` would write alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rvhpc.errors import ConfigError
from rvhpc.experiments import seed_dir
from rvhpc.training.config import TrainConfig


def seed_runs(
    values: dict[str, Any],
    out: Path,
    seeds: list[int] | None = None,
    attr_seeds: list[int] | None = None,
) -> tuple[list[TrainConfig], list[Path]]:
    """The configs and run folders of one run (``seeds`` None) or of a pack of seeds.

    Parameters
    ----------
    values : dict
        The TrainConfig fields the user set (the others take TrainConfig's defaults). ``seed``
        here with ``seeds``, or ``attr_seed`` with ``attr_seeds``, is refused rather than one of
        them silently ignored.
    out : Path
        The run folder, or with ``seeds`` the folder holding one ``seed<k>/`` per member.
    seeds : list[int], optional
        The members' init seeds (distinct).
    attr_seeds : list[int], optional
        With ``seeds``: one draw per member, paired in order. Without it every member takes
        ``attr_seed``, or with ``paired_draw`` its own seed.

    Returns
    -------
    tuple[list[TrainConfig], list[Path]]
        One config and one folder per member, in order.

    Raises
    ------
    ConfigError
        Conflicting or mismatched seed options, or an invalid config (one line).
    """
    if "store" in values:  # the run records where its store was
        values = {**values, "store": Path(values["store"]).resolve()}
    if seeds is None:
        if attr_seeds is not None:
            raise ConfigError("--attr-seeds pairs with --seeds; for one run use --attr-seed")
        return [TrainConfig.create(**values)], [Path(out)]
    if "seed" in values:
        raise ConfigError(
            f"--seed {values['seed']} and --seeds: give one (--seeds trains each listed seed)"
        )
    if len(set(seeds)) != len(seeds):
        raise ConfigError("--seeds: each member needs its own seed (the folders are OUT/seed<k>)")
    if attr_seeds is not None:
        if "attr_seed" in values:
            raise ConfigError(
                f"--attr-seed {values['attr_seed']} and --attr-seeds: give one "
                "(--attr-seeds pairs one draw with each of --seeds)"
            )
        if len(attr_seeds) != len(seeds):
            raise ConfigError(
                f"--attr-seeds has {len(attr_seeds)} values, --seeds {len(seeds)}: "
                "pair them one to one"
            )
        draws = list(attr_seeds)
    elif values.get("paired_draw"):  # each member draws its own vectors: attr_seed = seed
        if "attr_seed" in values:
            raise ConfigError(
                f"--attr-seed {values['attr_seed']} with --paired-draw and --seeds: each "
                "member's draw follows its seed; drop --attr-seed"
            )
        draws = list(seeds)
    else:
        draws = [values.get("attr_seed", 0)] * len(seeds)
    common = {k: v for k, v in values.items() if k not in ("seed", "attr_seed")}
    configs = [
        TrainConfig.create(**common, seed=s, attr_seed=a) for s, a in zip(seeds, draws, strict=True)
    ]
    return configs, [Path(out) / seed_dir(s) for s in seeds]
