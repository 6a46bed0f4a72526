"""ffnn: feedforward neural networks written once, by hand, against the Array API."""

from . import activations, datasets, dropout, initializers, jacobians, losses, optimizers, schedules, testing, training
from ._version import __version__ as __version__
from .activations import get_activation
from .dropout import DropoutError
from .explain import ExplainedGradient, explain_gradient
from .gradcheck import GradcheckResult, gradcheck, numerical_partial
from .layers import Dense
from .losses import get_loss
from .network import Network
from .optimizers import SGD, Adam, AdamW, get_optimizer
from .schedules import CosineDecay, ExponentialDecay, StepDecay
from .serialization import ModelFileError, load
from .training import Callback, Checkpoint, EarlyStopping, History

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Callback",
    "Checkpoint",
    "CosineDecay",
    "Dense",
    "DropoutError",
    "EarlyStopping",
    "ExplainedGradient",
    "ExponentialDecay",
    "GradcheckResult",
    "History",
    "ModelFileError",
    "Network",
    "StepDecay",
    "activations",
    "datasets",
    "dropout",
    "explain_gradient",
    "get_activation",
    "get_loss",
    "get_optimizer",
    "gradcheck",
    "initializers",
    "jacobians",
    "load",
    "losses",
    "numerical_partial",
    "optimizers",
    "schedules",
    "testing",
    "training",
]
