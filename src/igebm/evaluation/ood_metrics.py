"""OOD detection metrics from scikit-learn, in-distribution labelled 1 (higher score = more in)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def ood_metrics(in_scores: np.ndarray, out_scores: np.ndarray) -> dict[str, float]:
    """AUROC, AUPR (in-distribution as positive) and the FPR on OOD at 95% TPR."""
    s = np.concatenate([in_scores, out_scores]).astype(np.float64)
    s = np.nan_to_num(s, nan=-np.inf)
    s = np.clip(s, -1e30, 1e30)
    t = np.concatenate([np.ones(len(in_scores)), np.zeros(len(out_scores))])
    fpr, tpr, _ = roc_curve(t, s)
    return {"auroc": float(roc_auc_score(t, s)), "aupr": float(average_precision_score(t, s)),
            "fpr_at_95_tpr": float(fpr[np.searchsorted(tpr, 0.95, side="left")])}
