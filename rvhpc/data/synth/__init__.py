"""Synthetic datasets in the exact layout and formats of the published files: ``camels`` (CAMELS
US, with the attributes of ``attrs``), built from ``weather`` and ``hydrology``."""

from rvhpc.data.synth.camels import SynthResult, check_target, synthesize

__all__ = ["SynthResult", "check_target", "synthesize"]
