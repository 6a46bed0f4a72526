"""Training: the step, the one mini-batch loop with its seams (gradient hook, sampler,
stopping rule, sample weights), callbacks, history and state, evaluation.

Nothing here imports :mod:`ffnn.network`: the network subclasses :class:`Trainer`.
"""

from .._validation import PREDICT_BATCH_SIZE
from .callbacks import MONITORS, Callback, Checkpoint, EarlyStopping, StopCheck
from .compile import compile_step, compiled_step
from .evaluation import predict_classes, predict_proba
from .history import History, TrainingState
from .loop import DivergedError
from .sampling import ShuffleSampler, shuffle_order
from .step import Step, held_step, make_step, train_step
from .trainer import Trainer, evaluate, fit

__all__ = [
    "MONITORS",
    "PREDICT_BATCH_SIZE",
    "Callback",
    "Checkpoint",
    "DivergedError",
    "EarlyStopping",
    "History",
    "ShuffleSampler",
    "Step",
    "StopCheck",
    "Trainer",
    "TrainingState",
    "compile_step",
    "compiled_step",
    "evaluate",
    "fit",
    "held_step",
    "make_step",
    "predict_classes",
    "predict_proba",
    "shuffle_order",
    "train_step",
]
