"""scikit-learn estimators FFNNClassifier and FFNNRegressor: MLPClassifier/MLPRegressor,
numerically, on ffnn's network and any array library.

Modules: ``_base`` (parameters, fit on ffnn's training loop, L-BFGS), ``_classifier``,
``_regressor``, and the MLP components the training loop (:class:`ffnn.training.Loop`)
takes: ``_init`` (initial weights), ``_losses`` (the reported cost over the core losses,
the L2 penalty), ``_optim`` (SGD/Adam and their learning-rate schedules), ``_sampler``
(epoch order), ``_dispatch`` (array API dispatch). The stopping rule (tol /
n_iter_no_change) is :class:`ffnn.training.EarlyStopping` (``reference="best"``,
``inclusive=True``).
"""

from ._classifier import FFNNClassifier
from ._init import mlp_initial_parameters
from ._losses import MLPPenalty, MLPReportedLoss
from ._optim import MLPSGD, MLPAdam
from ._regressor import FFNNRegressor
from ._sampler import MLPSampler

__all__ = [
    "MLPSGD",
    "FFNNClassifier",
    "FFNNRegressor",
    "MLPAdam",
    "MLPPenalty",
    "MLPReportedLoss",
    "MLPSampler",
    "mlp_initial_parameters",
]
