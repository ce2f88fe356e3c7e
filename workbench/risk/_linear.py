"""The linear predictor of a fitted risk model: its log-odds, and a recalibrated model
(``logit(p) = intercept + slope * lp``). Kept below :mod:`workbench.risk.artefact` and
:mod:`workbench.risk.reasons`, which both use them (``artefact`` re-exports both names).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Recalibrated", "log_odds"]


class Recalibrated:
    """A fitted model whose linear predictor is recalibrated: ``logit(p) = intercept + slope * lp``,
    ``lp`` the base model's log-odds (:func:`workbench.risk.predict.recalibrate`). The base
    pipeline is kept unchanged (``base``), so its reasons are its own, scaled by ``slope``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> base = LogisticRegression().fit(np.array([[0.], [1.], [2.], [3.]]), [0, 0, 1, 1])
    >>> r = Recalibrated(base, intercept=0.0, slope=1.0)
    >>> bool(np.allclose(r.predict_proba(np.array([[1.5]])), base.predict_proba(np.array([[1.5]]))))
    True
    """

    def __init__(self, base, *, intercept: float, slope: float = 1.0):
        self.base = base
        self.intercept = float(intercept)
        self.slope = float(slope)
        self.classes_ = getattr(base, "classes_", np.array([0, 1]))

    def base_log_odds(self, X) -> np.ndarray:
        return log_odds(self.base, X)

    def decision_function(self, X) -> np.ndarray:
        return self.intercept + self.slope * self.base_log_odds(X)

    def predict_proba(self, X) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def __repr__(self) -> str:
        return f"Recalibrated({self.base!r}, intercept={self.intercept:.4g}, slope={self.slope:.4g})"


def log_odds(model, X) -> np.ndarray:
    """The model's predicted log-odds of the outcome for the rows of ``X`` (from
    ``predict_proba``, clipped to 1e-12 .. 1 - 1e-12 so that a certain prediction stays finite).

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> m = LogisticRegression().fit(np.array([[0.], [1.], [2.], [3.]]), [0, 0, 1, 1])
    >>> bool(np.allclose(log_odds(m, np.array([[1.]])), m.decision_function(np.array([[1.]]))))
    True
    """
    if isinstance(model, Recalibrated):
        return model.decision_function(X)
    p = np.clip(np.asarray(model.predict_proba(X))[:, 1], 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)
