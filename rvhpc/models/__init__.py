"""The model zoo: EA-LSTM, CT-LSTM, SR-LSTMEA, FM-LSTM and a plain LSTM, a registry by name and
conversion from/to the original code's state dicts."""

from rvhpc.models.reference import from_reference, load_reference_file, to_reference
from rvhpc.models.registry import MODELS, build_model, model_class

__all__ = [
    "MODELS",
    "build_model",
    "from_reference",
    "load_reference_file",
    "model_class",
    "to_reference",
]
