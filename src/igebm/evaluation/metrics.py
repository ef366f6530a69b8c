"""Sample-quality numbers: what "the EBM generates good digits" means, measured.

Everything takes numpy arrays (or anything `np.asarray` accepts) and returns
plain floats, so results go straight into metrics.json.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from scipy.spatial.distance import pdist


def _flat(x) -> np.ndarray:
    x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    return x.reshape(len(x), -1).astype(np.float64)


def frechet_distance(feats_a, feats_b, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula).

    sqrtm of a product of covariances can come out complex or non-finite from
    round-off; we retry with eps*I added and keep the real part.
    """
    a, b = _flat(feats_a), _flat(feats_b)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("frechet_distance needs at least 2 samples per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # singular covariances (dead ReLU features) are expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.all(np.isfinite(covmean)):
            offset = eps * np.eye(len(cov_a))
            covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def conditional_accuracy(judge, x, labels) -> float:
    """Share of samples the judge assigns to the class they were generated for."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    return float(np.mean(judge.predict(x) == labels))


def class_histogram(judge, x, num_classes: int) -> np.ndarray:
    """Share of samples per predicted class: mode collapse shows up as a spike."""
    pred = judge.predict(x)
    counts = np.bincount(pred, minlength=num_classes)[:num_classes].astype(np.float64)
    return counts / max(len(pred), 1)


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def mmd_rbf(a, b, bandwidths=None) -> float:
    """Unbiased squared MMD with a sum of RBF kernels.

    Default bandwidths: the median pairwise distance of the pooled sample
    (median heuristic) times 0.5, 1 and 2, so one badly chosen scale cannot
    hide a difference. Can be slightly negative for identical distributions.
    """
    a, b = _flat(a), _flat(b)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("mmd_rbf needs at least 2 samples per set")
    d_aa, d_bb, d_ab = _sq_dists(a, a), _sq_dists(b, b), _sq_dists(a, b)
    if bandwidths is None:
        pooled = np.concatenate([a, b])
        med = float(np.median(pdist(pooled))) if len(pooled) <= 4000 else \
            float(np.median(np.sqrt(d_ab)))
        med = med if med > 0 else 1.0
        bandwidths = [0.5 * med, med, 2.0 * med]

    def k(d):
        return sum(np.exp(-d / (2.0 * s * s)) for s in np.atleast_1d(bandwidths))

    m, n = len(a), len(b)
    k_aa, k_bb = k(d_aa), k(d_bb)
    term_aa = (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
    term_bb = (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
    return float(term_aa + term_bb - 2.0 * k(d_ab).mean())


def mean_pairwise_distance(x) -> float:
    """Mean L2 distance over all pairs: low values mean the samples look alike."""
    x = _flat(x)
    return float(pdist(x).mean()) if len(x) >= 2 else 0.0


def saturation(x, hi: float = 0.9) -> float:
    """Share of pixel values above `hi`: sampling that drifts to the bounds shows up here."""
    x = _flat(x)
    return float(np.mean(x > hi)) if x.size else float("nan")


def psnr(a, b, data_range: float = 1.0) -> float:
    """Mean per-image PSNR in dB; identical images are capped at MSE 1e-10 (100 dB at range 1)."""
    a, b = _flat(a), _flat(b)
    mse = np.maximum(((a - b) ** 2).mean(1), 1e-10)
    return float(np.mean(10.0 * np.log10(data_range ** 2 / mse)))


def within_class_diversity(x, labels) -> float:
    """Mean pairwise distance inside each class, averaged over classes with >= 2 samples."""
    x, labels = _flat(x), np.asarray(labels)
    per_class = [mean_pairwise_distance(x[labels == c]) for c in np.unique(labels)
                 if np.sum(labels == c) >= 2]
    return float(np.mean(per_class)) if per_class else 0.0


def sample_quality(judge, samples, labels, reference_x) -> dict:
    """The standard bundle for class-conditional samples, compared with real data."""
    return {
        "accuracy": conditional_accuracy(judge, samples, labels),
        "frechet": frechet_distance(judge.features(samples), judge.features(reference_x)),
        "saturation": saturation(samples),
        "diversity": within_class_diversity(samples, labels),
    }
