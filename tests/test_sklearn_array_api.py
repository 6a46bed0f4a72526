"""Array API dispatch of FFNNClassifier/FFNNRegressor, scikit-learn's way.

scikit-learn's dispatch needs ``SCIPY_ARRAY_API=1`` before SciPy is imported, so without
it this module holds one test that runs the module again in a subprocess with it set;
with it, the tests below run: scikit-learn's array API checks on array_api_strict and
torch CPU, the full estimator checks with dispatch on, and parity of torch /
array_api_strict training with NumPy's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="needs scikit-learn")

ENABLED = os.environ.get("SCIPY_ARRAY_API") == "1"

if not ENABLED:

    @pytest.mark.slow
    def test_array_api_dispatch_in_a_subprocess():
        root = Path(__file__).resolve().parents[1]
        env = {
            **os.environ,
            "SCIPY_ARRAY_API": "1",
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        }
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", __file__],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        assert " passed" in run.stdout and " failed" not in run.stdout

else:
    import sklearn
    from sklearn.datasets import make_classification
    from sklearn.utils._array_api import NamespaceAndDevice
    from sklearn.utils.estimator_checks import (
        check_array_api_input,
        check_array_api_input_and_values,
        check_array_api_mixed_inputs,
        check_array_api_same_namespace,
        parametrize_with_checks,
    )

    from ffnn.sklearn import FFNNClassifier, FFNNRegressor

    ESTIMATORS = [FFNNClassifier(max_iter=30, random_state=0), FFNNRegressor(max_iter=30, random_state=0)]
    CASES = [
        ("array_api_strict", None, "float64"),
        ("array_api_strict", "device1", "float32"),
        ("torch", "cpu", "float64"),
        ("torch", "cpu", "float32"),
    ]

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    @pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
    @pytest.mark.parametrize(("namespace", "device", "dtype"), CASES)
    def test_scikit_learn_array_api_checks(estimator, namespace, device, dtype):
        name = type(estimator).__name__
        check_array_api_input(name, estimator, array_namespace=namespace, device_name=device, dtype_name=dtype)
        check_array_api_input_and_values(
            name, estimator, array_namespace=namespace, device_name=device, dtype_name=dtype, check_sample_weight=True
        )

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    @pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
    def test_same_namespace_and_mixed_inputs(estimator):
        name = type(estimator).__name__
        check_array_api_same_namespace(name, estimator, array_namespace="array_api_strict")
        check_array_api_mixed_inputs(
            name,
            estimator,
            X_ns_and_device=NamespaceAndDevice("torch", "cpu"),
            other_ns_and_device=NamespaceAndDevice("array_api_strict", "device1"),
        )

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    @parametrize_with_checks([FFNNClassifier(random_state=0), FFNNRegressor(random_state=0)])
    def test_estimator_checks_with_dispatch_on(estimator, check):
        with sklearn.config_context(array_api_dispatch=True):
            check(estimator)

    @pytest.mark.parametrize("library", ["torch", "array_api_strict"])
    @pytest.mark.parametrize("Estimator", [FFNNClassifier, FFNNRegressor])
    def test_training_stays_on_the_library_and_matches_numpy(library, Estimator):
        """Fitted arrays and predictions live in X's namespace and device, and the run
        agrees with NumPy's (float64; README parity tolerance 1e-9 relative)."""
        X, y = make_classification(80, 6, random_state=0)
        params = {
            "hidden_layer_sizes": (8,),
            "solver": "sgd",
            "max_iter": 15,
            "random_state": 0,
            "early_stopping": True,
        }
        if library == "torch":
            import torch

            Xd, yd, to_np = torch.asarray(X), torch.asarray(y), lambda a: a.numpy()
        else:
            import array_api_strict as xps

            device = xps.Device("device1")
            Xd, yd = xps.asarray(X, device=device), xps.asarray(y, device=device)
            to_np = lambda a: np.asarray(xps.asarray(a, device=xps.Device("CPU_DEVICE")))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = Estimator(**params).fit(X, y)
            with sklearn.config_context(array_api_dispatch=True):
                est = Estimator(**params).fit(Xd, yd)
                pred = est.predict(Xd)
        assert type(est.coefs_[0]) is type(Xd) and type(pred) is type(Xd)
        assert est.coefs_[0].device == Xd.device and pred.device == Xd.device
        np.testing.assert_allclose(to_np(est.coefs_[0]), ref.coefs_[0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-9)
        np.testing.assert_allclose(est.validation_scores_, ref.validation_scores_, rtol=1e-9)
        np.testing.assert_allclose(to_np(pred), ref.predict(X), rtol=1e-9, atol=1e-12)
