import torch
from torch import nn

from igebm.config import Config
from igebm.models import IGEBMResNet, PRESETS, build_model
from igebm.sampling import LangevinSampler


class Quadratic(nn.Module):
    """E(x) = |x - c|^2 / 2: the sampler should move x towards c."""

    def __init__(self, c):
        super().__init__()
        self.c = nn.Parameter(torch.as_tensor(c, dtype=torch.float32))

    def forward(self, x, y=None):
        return 0.5 * ((x - self.c) ** 2).flatten(1).sum(1)


def small_resnet(num_classes=10):
    cfg = Config()
    cfg.model.channels = 8
    return build_model(cfg.model, (1, 8, 8), num_classes)


def test_langevin_lowers_energy_of_a_trained_like_net():
    torch.manual_seed(0)
    model = small_resnet().train()
    x0 = torch.rand(32, 1, 8, 8)
    y = torch.randint(0, 10, (32,))
    with torch.no_grad():
        e0 = model(x0, y).mean()
    res = LangevinSampler(steps=30, step_size=10, noise_std=0.005, grad_clip=0.01).sample(
        model, x0, y, generator=torch.Generator().manual_seed(0))
    assert res.energies.mean() < e0 - 1e-3
    assert res.x.min() >= 0 and res.x.max() <= 1


def test_ula_converges_to_the_gaussian_target():
    energy = Quadratic(torch.full((2,), 3.0))
    s = LangevinSampler(steps=400, step_size=0.05, grad_clip=0, parameterization="ula", clamp=None)
    x = s.sample(energy, torch.zeros(4000, 2), generator=torch.Generator().manual_seed(1)).x
    assert torch.allclose(x.mean(0), torch.full((2,), 3.0), atol=0.1)
    assert torch.allclose(x.var(0), torch.ones(2), atol=0.15)  # stationary variance of exp(-E) is 1


def test_temperature_widens_the_ula_stationary_distribution():
    energy = Quadratic(torch.zeros(2))
    s = LangevinSampler(steps=400, step_size=0.05, grad_clip=0, parameterization="ula", clamp=None, temperature=4.0)
    x = s.sample(energy, torch.zeros(4000, 2), generator=torch.Generator().manual_seed(1)).x
    assert torch.allclose(x.var(0), torch.full((2,), 4.0), rtol=0.15)


def test_mask_moves_only_masked_entries():
    energy = Quadratic(torch.full((1, 8, 8), 0.5))
    x0 = torch.rand(4, 1, 8, 8)
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    mask[..., 4:, :] = True
    x = LangevinSampler(steps=20, step_size=0.5, grad_clip=0).sample(energy, x0, mask=mask).x
    assert torch.equal(x[..., :4, :], x0[..., :4, :])
    assert not torch.allclose(x[..., 4:, :], x0[..., 4:, :])


def test_sampling_never_writes_parameter_gradients_and_restores_requires_grad():
    model = small_resnet().train()
    LangevinSampler(steps=3).sample(model, torch.rand(8, 1, 8, 8), torch.zeros(8, dtype=torch.long))
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def test_chain_sees_one_fixed_spectral_norm():
    """In train mode, spectral norm runs a power iteration per forward; a chain must run it once."""
    model = small_resnet().train()
    u_name = next(n for n, _ in model.named_buffers() if n.endswith("_u"))
    u_before = dict(model.named_buffers())[u_name].clone()
    calls = []
    orig = model.stem.parametrizations.weight[0].forward
    model.stem.parametrizations.weight[0].forward = lambda w: (calls.append(1), orig(w))[1]
    LangevinSampler(steps=10).sample(model, torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    assert len(calls) == 1  # cached: weight computed once for 11 forwards
    assert not torch.equal(u_before, dict(model.named_buffers())[u_name])  # and it did iterate once


def test_recording_and_reproducibility():
    model = small_resnet().eval()  # eval: spectral norm does not iterate between chains
    s = LangevinSampler(steps=10)
    x0, y = torch.rand(4, 1, 8, 8), torch.arange(4)
    a = s.sample(model, x0, y, generator=torch.Generator().manual_seed(3), record_every=5)
    b = s.sample(model, x0, y, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.x, b.x)
    assert a.trace_steps == [0, 5, 10] and len(a.trace) == 3 and a.trace[-1].shape == (4, 1, 8, 8)


def test_resnet_presets_and_conditioning():
    torch.manual_seed(0)
    for name in ("resnet32", "resnet32-large"):
        m = IGEBMResNet(3, PRESETS[name], 10)
        assert m(torch.rand(2, 3, 32, 32), torch.tensor([0, 1])).shape == (2,)
    m = small_resnet()
    with torch.no_grad():  # gains/biases make the label matter once they move off their init
        for block in m.blocks:
            block.film1.bias.weight.normal_()
        x = torch.rand(1, 1, 8, 8).repeat(2, 1, 1, 1)
        e = m(x, torch.tensor([0, 1]))
    assert e[0] != e[1]


def test_sampler_works_inside_no_grad():
    model = small_resnet().eval()
    x0 = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        x = LangevinSampler(steps=3).sample(model, x0, torch.zeros(4, dtype=torch.long)).x
    assert not torch.equal(x, x0)
