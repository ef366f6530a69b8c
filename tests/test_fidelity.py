"""Issue 15: Inception score and FID through a pluggable extractor; the one-line note without weights.

torch-fidelity cannot be imported on this CPU machine (it imports torchvision, and PyPI's
torchvision does not import beside torch 2.13.0), and its weights cannot be downloaded here, so
the tests drive the same code path (`evaluate_fidelity`) with a small local feature extractor.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from igebm.cli import main
from igebm.errors import UserError
from igebm.evaluation.fidelity import WEIGHTS_URL, evaluate_fidelity, find_weights, inception_score


def tiny_extractor(classes: int = 10):
    """A fixed random conv net: 16 pooled features and `classes` logits, as Inception gives 2048 and 1008."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten())
    head = torch.nn.Linear(16, classes)

    @torch.no_grad()
    def extract(x):
        f = net(x)
        return f, head(f) * 20
    return extract


def test_inception_score_bounds():
    assert inception_score(np.zeros((100, 10)))[0] == pytest.approx(1.0)  # one flat prediction: IS 1
    sharp = np.eye(10)[np.arange(100) % 10] * 50  # confident and evenly spread over 10 classes: IS 10
    assert inception_score(sharp, splits=1)[0] == pytest.approx(10.0, rel=1e-3)


def test_the_same_code_path_with_a_local_extractor():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(200, 1, 8, 8, generator=g)
    near = (ref + 0.01 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    far = torch.zeros_like(ref) + 0.5 * torch.rand(200, 1, 1, 1, generator=g)
    ext = tiny_extractor()
    m_near, note = evaluate_fidelity(near, ref, extractor=ext)
    m_far, _ = evaluate_fidelity(far, ref, extractor=ext)
    assert note is None and set(m_near) == {"fid", "inception_score", "inception_score_std"}
    assert 0 <= m_near["fid"] < m_far["fid"] / 10  # FID tells samples near the data from far ones
    assert all(np.isfinite(list(m_far.values())))


def test_without_weights_one_line_says_how_to_get_them(monkeypatch, tmp_path, tiny_run_dir, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    ref = torch.rand(50, 1, 8, 8)
    metrics, note = evaluate_fidelity(ref.flip(0), ref)
    assert metrics == {} and WEIGHTS_URL in note and "--inception-weights" in note and "\n" not in note
    with pytest.raises(UserError, match="is not a file"):
        find_weights(tmp_path / "missing.pth")
    # the command: the project's Fréchet distance, and the note as one warning line
    import shutil
    run = tmp_path / "run"  # a copy: the shared run stays as other tests expect it
    shutil.copytree(tiny_run_dir, run)
    capsys.readouterr()
    assert main(["fidelity", str(run), "--num", "40", "--steps", "2"]) == 0
    out, err = capsys.readouterr()
    row = json.loads(out.strip().splitlines()[-1])
    assert "frechet_judge" in row and np.isfinite(row["frechet_judge"]) and "fid" not in row
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "warning: Inception score and FID skipped" in lines[0], lines
    assert json.loads((run / "fidelity.json").read_text()) == row
    assert main(["fidelity", str(run), "--inception-weights", str(tmp_path / "nope.pth")]) == 2
