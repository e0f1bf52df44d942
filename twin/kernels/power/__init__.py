"""Power flow: AC Newton-Raphson (sparse Jacobian), DC, and batched members (outages, load
factors) solved in one pass — :func:`powerflow`, :func:`n_minus_1`, :class:`PowerFlow`."""

from .api import n_minus_1, powerflow
from .batch import PowerFlow
from .errors import PowerFlowError

__all__ = ["powerflow", "n_minus_1", "PowerFlow", "PowerFlowError"]
