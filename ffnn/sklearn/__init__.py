"""scikit-learn estimators FFNNClassifier and FFNNRegressor: MLPClassifier/MLPRegressor,
numerically, on ffnn's network and any array library.

Modules: ``_base`` (parameters, fit, the epoch driver, L-BFGS), ``_classifier``,
``_regressor``, and the MLP components a training loop can take: ``_init``
(initial weights), ``_losses`` (costs, seeds, L2), ``_optim`` (SGD/Adam and their
learning-rate schedules), ``_sampler`` (epoch order), ``_stopping`` (tol /
n_iter_no_change), ``_dispatch`` (array API dispatch).
"""

from ._classifier import FFNNClassifier
from ._init import mlp_initial_parameters
from ._losses import MLPLoss
from ._optim import MLPSGD, MLPAdam
from ._regressor import FFNNRegressor
from ._sampler import MLPSampler
from ._stopping import MLPStopping

__all__ = [
    "MLPSGD",
    "FFNNClassifier",
    "FFNNRegressor",
    "MLPAdam",
    "MLPLoss",
    "MLPSampler",
    "MLPStopping",
    "mlp_initial_parameters",
]
