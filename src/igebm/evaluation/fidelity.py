"""The paper's sample-quality numbers, Inception score and FID, through a pluggable feature extractor.

The published CIFAR-10 numbers (IS 6.78 / FID 38.2 unconditional) come from the TF Inception-v3
graph; torch-fidelity (the optional `fidelity` extra) ports it and needs its weights file. igebm
never downloads it: `--inception-weights PATH`, or the file in torch's hub cache
(`$TORCH_HOME/hub/checkpoints/`). Without weights the command says in one line how to get them
and still reports the project's own Fréchet distance (the judge's features). An extractor is any
callable `x (N, C, H, W) in [0, 1] -> (features (N, D), logits (N, K) or None)`, so the same code
path runs with a small local network in the tests.

Note: torch-fidelity 0.4.0 imports torchvision at import time; where no torchvision build matches
the installed torch (this CPU machine: torch 2.13.0), `inception_extractor` says so in one line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from igebm.errors import UserError
from igebm.evaluation.metrics import frechet_distance

WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_NAME}"

Extractor = Callable[[torch.Tensor], "tuple[torch.Tensor, torch.Tensor | None]"]


def hub_weights() -> Path:
    """Where torch-fidelity's own download would put the weights (torch hub's checkpoint cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def find_weights(path: str | Path | None) -> Path | None:
    """The weights file: the given path (which must exist), else the hub cache's, else None."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"--inception-weights '{p}' is not a file; download {WEIGHTS_URL} there")
        return p
    cached = hub_weights()
    return cached if cached.is_file() else None


def how_to_get_weights() -> str:
    return (f"Inception score and FID skipped: no Inception weights; download {WEIGHTS_URL} to {hub_weights()} "
            "or pass --inception-weights PATH (and pip install 'igebm[fidelity]'); the project's Fréchet "
            "distance is reported instead")


def inception_extractor(weights: Path, device: str | torch.device = "cpu") -> Extractor:
    """torch-fidelity's Inception-v3 (pool features 2048, unbiased logits 1008) on uint8 RGB images."""
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except Exception as exc:  # noqa: BLE001 - ImportError, or torchvision failing beside this torch
        raise UserError(f"torch-fidelity cannot be imported ({' '.join(str(exc).split())[:120]}): "
                        "pip install 'igebm[fidelity]' with a torchvision that matches your torch") from None
    net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                      feature_extractor_weights_path=str(weights)).to(device).eval()

    @torch.no_grad()
    def extract(x: torch.Tensor):
        u8 = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        if u8.shape[1] == 1:
            u8 = u8.repeat(1, 3, 1, 1)
        feats, logits = net(u8.to(device))
        return feats.cpu(), logits.cpu()
    return extract


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))), mean and std over `splits` chunks (Salimans et al. 2016)."""
    logits = np.asarray(logits, dtype=np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for chunk in np.array_split(p, max(1, min(splits, len(p)))):
        py = chunk.mean(0, keepdims=True)
        kl = (chunk * (np.log(chunk + 1e-12) - np.log(py + 1e-12))).sum(1).mean()
        scores.append(math.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def _features(extractor: Extractor, x: torch.Tensor, batch: int) -> tuple[np.ndarray, np.ndarray | None]:
    feats, logits = [], []
    for i in range(0, len(x), batch):
        f, lg = extractor(x[i:i + batch])
        feats.append(f.double().numpy())
        if lg is not None:
            logits.append(lg.double().numpy())
    return np.concatenate(feats), (np.concatenate(logits) if logits else None)


def fidelity_metrics(samples: torch.Tensor, reference: torch.Tensor, extractor: Extractor, batch: int = 200,
                     splits: int = 10) -> dict[str, float]:
    """FID (samples against reference, in the extractor's features) and, with logits, the Inception score."""
    fs, logits = _features(extractor, samples, batch)
    fr, _ = _features(extractor, reference, batch)
    out = {"fid": frechet_distance(fs, fr)}
    if logits is not None:
        out["inception_score"], out["inception_score_std"] = inception_score(logits, splits)
    return out


def evaluate_fidelity(samples: torch.Tensor, reference: torch.Tensor, *, judge=None, weights: str | Path | None = None,
                      extractor: Extractor | None = None, device: str = "cpu") -> tuple[dict[str, float], str | None]:
    """(metrics, note): the judge's Fréchet distance always; IS and FID when an extractor (or weights) is there.

    `note` is the one line that says how to get the weights when they are missing, else None.
    """
    out: dict[str, float] = {}
    if judge is not None:
        out["frechet_judge"] = frechet_distance(judge.features(samples), judge.features(reference))
    note = None
    if extractor is None:
        found = find_weights(weights)
        if found is None:
            note = how_to_get_weights()
        else:
            extractor = inception_extractor(found, device)
    if extractor is not None:
        out.update(fidelity_metrics(samples, reference, extractor))
    return out, note
