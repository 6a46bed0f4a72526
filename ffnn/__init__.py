"""ffnn: feedforward neural networks written once, by hand, against the Array API."""

from . import activations, initializers, jacobians, losses
from .activations import get_activation
from .gradcheck import GradcheckResult, gradcheck, numerical_partial
from .layers import Dense
from .losses import get_loss
from .network import Network

__version__ = "0.1.0"

__all__ = [
    "Dense",
    "GradcheckResult",
    "Network",
    "activations",
    "get_activation",
    "get_loss",
    "gradcheck",
    "initializers",
    "jacobians",
    "losses",
    "numerical_partial",
]
