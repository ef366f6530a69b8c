"""Invariant energies (models/invariance.py): indifferent to the attribute they canonicalise, and only to it."""

import pytest
import torch

from igebm.config import load_config
from igebm.data.shapes import render
from igebm.errors import UserError
from igebm.models import PRESETS, IGEBMResNet
from igebm.models.invariance import CANONICAL_SPREAD, CanonicalisedEnergy, canonicalise, mass_moments
from igebm.recipes import find_recipe

PX = 1 / 16  # one pixel of the 16x16 shapes


def square(size, x, y):
    return torch.from_numpy(render("square", size, x, y)).float().reshape(1, 1, 16, 16)


def net(coords=False):
    torch.manual_seed(0)
    return IGEBMResNet(1, PRESETS["resnet-digits"], 0, use_spectral_norm=False, coord_channels=coords).eval()


def test_moments_read_the_centre_and_spread_of_a_square():
    centre, spread = mass_moments(square(0.375, 0.25, 0.75))  # 6 px side at (4, 12) px
    assert torch.allclose(centre, torch.tensor([[-0.5, 0.5]]), atol=1e-4)  # grid_sample units: 2 * frac - 1
    assert spread.item() == pytest.approx(2 * 0.375 / 6 ** 0.5, rel=0.01)  # RMS radius of a filled square


def test_translation_invariant_energy_ignores_where_the_square_is_but_not_its_size():
    plain, inv = net(coords=True), CanonicalisedEnergy(net(coords=True), "translation")
    centred, moved, bigger = square(0.375, 0.5, 0.5), square(0.375, 0.5 - 3 * PX, 0.5 + 4 * PX), square(0.5, 0.5, 0.5)
    with torch.no_grad():
        e = {k: (plain(x).item(), inv(x).item()) for k, x in (("c", centred), ("m", moved), ("b", bigger))}
    size_gap = abs(e["b"][1] - e["c"][1])
    assert abs(e["m"][1] - e["c"][1]) < 0.05 * size_gap  # whole-pixel moves: the canonical images are equal
    assert abs(e["m"][0] - e["c"][0]) > 10 * abs(e["m"][1] - e["c"][1])  # the plain energy does see the move


def test_scale_invariant_view_keeps_the_centre_and_fixes_the_spread():
    small, large = square(0.3, 0.3, 0.7), square(0.55, 0.3, 0.7)
    a, b = canonicalise(small, "scale"), canonicalise(large, "scale")
    for raw, view in ((small, a), (large, b)):
        (c0, _), (c1, s1) = mass_moments(raw), mass_moments(view)
        assert torch.allclose(c0, c1, atol=0.02)
        assert s1.item() == pytest.approx(CANONICAL_SPREAD, rel=0.06)
    assert (a - b).abs().sum() < 0.25 * (small - large).abs().sum()


def test_the_sampler_gradient_flows_through_the_canonical_view():
    x = torch.rand(3, 1, 16, 16, requires_grad=True)
    for mode in ("translation", "scale"):
        e = CanonicalisedEnergy(net(), mode)(x).sum()
        (g,) = torch.autograd.grad(e, x)
        assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_invariance_is_a_model_key_the_config_checks(tmp_path):
    from igebm.training import Trainer

    cfg = load_config(find_recipe("shapes_size"), ["model.invariance=translation", "train.batch_size=4",
                                                   "train.max_steps=1", "buffer.capacity=8", "sampler.steps=1",
                                                   "model.channels=4", "train.progress=false",
                                                   "train.tensorboard=false"])
    trainer = Trainer(cfg, tmp_path / "run")
    assert isinstance(trainer.model, CanonicalisedEnergy) and trainer.model.invariance == "translation"
    assert trainer.fit()["step"] == 1
    with pytest.raises(UserError, match="model.invariance.*choose one of"):
        load_config(find_recipe("shapes_size"), ["model.invariance=rotation"])
    with pytest.raises(UserError, match="needs an image energy"):
        load_config(find_recipe("toy2d"), ["model.invariance=scale"])
