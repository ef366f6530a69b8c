"""Chain options: bf16 autocast, channels_last, folded weights and the compiled Langevin step."""

import dataclasses
import os
import shutil

import pytest
import torch
from conftest import tiny_config

from igebm.config import load_config
from igebm.errors import UserError
from igebm.models import PRESETS, IGEBMResNet
from igebm.sampling import ChainContext, LangevinSampler, frozen_energy
from igebm.sampling import options as opts
from igebm.sampling.options import ChainOptions, WeightCache

# bf16 keeps 8 mantissa bits: on these nets the input-gradient's relative L2 error is about 5-7%
# (measured); 15% leaves room across seeds while still failing if bf16 reached the chain state.
BF16_GRAD_TOL = 0.15


def small_resnet(seed=0, train=False):
    torch.manual_seed(seed)
    net = IGEBMResNet(3, dataclasses.replace(PRESETS["resnet32"], base_channels=16), 10)
    return net.train(train)


def grads(net, x, c, bf16=False, weights=None):
    with frozen_energy(net), torch.enable_grad():
        ctx = ChainContext(net, c, 1.0, None, lambda z: z, None, bf16=bf16, weights=weights)
        return ctx.energy_and_grad(x)


def rel(a, b):
    return float((a - b).norm() / b.norm())


def test_bf16_gradient_is_close_to_fp32_on_a_small_resnet():
    net, x, c = small_resnet(), torch.rand(8, 3, 16, 16), torch.arange(8)
    e32, g32 = grads(net, x, c)
    e16, g16 = grads(net, x, c, bf16=True, weights=WeightCache(torch.bfloat16, False))
    assert g16.dtype == torch.float32 and e16.dtype == torch.float32
    assert 0 < rel(g16, g32) < BF16_GRAD_TOL  # > 0: bf16 really ran
    assert float((e16 - e32).abs().max()) < 0.05 * float(e32.abs().max()) + 1e-3


def test_folded_weights_equal_the_parametrized_energy_exactly():
    net, x, c = small_resnet(), torch.rand(4, 3, 16, 16), torch.arange(4)
    e1, g1 = grads(net, x, c)
    e2, g2 = grads(net, x, c, weights=WeightCache(None, False))
    assert torch.equal(e1, e2) and torch.equal(g1, g2)


def test_folding_runs_the_power_iteration_once_per_chain_like_eager():
    """In training mode a spectral norm updates its vectors once per chain, folded or not."""
    a, b = small_resnet(train=True), small_resnet(train=True)
    x, c = torch.rand(4, 3, 16, 16), torch.arange(4)
    LangevinSampler(steps=3).sample(a, x, c, generator=torch.Generator().manual_seed(0))
    LangevinSampler(steps=3, options=ChainOptions(channels_last=True)).sample(
        b, x, c, generator=torch.Generator().manual_seed(0))
    for (k, u), (_, v) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.allclose(u, v, atol=1e-6), k


def test_chain_state_and_parameters_stay_fp32_under_bf16():
    seen = []

    class Watching(LangevinSampler):
        def step(self, x, ctx, state):
            seen.append(x.dtype)
            out = super().step(x, ctx, state)
            seen.append(out.dtype)
            return out

    net = small_resnet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    res = Watching(steps=3, options=ChainOptions(precision="bf16")).sample(
        net, torch.rand(4, 3, 16, 16), torch.arange(4), generator=torch.Generator().manual_seed(0), record_every=1)
    assert set(seen) == {torch.float32}
    assert res.x.dtype == res.energies.dtype == torch.float32 and res.x.is_contiguous()
    assert all(e.dtype == torch.float32 for e in res.trace_energies)
    after = net.state_dict()
    assert all(after[k].dtype == v.dtype and torch.equal(after[k], v) for k, v in before.items())


def test_channels_last_equals_contiguous_within_float_tolerance():
    net, x, c = small_resnet(), torch.rand(8, 3, 16, 16), torch.arange(8)
    e1, g1 = grads(net, x, c)
    xl = x.contiguous(memory_format=torch.channels_last)
    e2, g2 = grads(net, xl, c, weights=WeightCache(None, True))
    assert rel(g2, g1) < 1e-5 and torch.allclose(e1, e2, atol=1e-5)
    # a whole chain, with a smooth update (no per-element clip whose sign could flip on rounding)
    kw = dict(steps=5, step_size=1.0, grad_clip=0.0, noise_std=0.005)
    a = LangevinSampler(**kw).sample(net, x, c, generator=torch.Generator().manual_seed(1)).x
    b = LangevinSampler(**kw, options=ChainOptions(channels_last=True)).sample(
        net, x, c, generator=torch.Generator().manual_seed(1)).x
    assert torch.allclose(a, b, atol=1e-5)


def test_precision_auto_falls_back_to_fp32_where_bf16_is_not_native_or_disagrees(monkeypatch, capsys):
    net, x, c = small_resnet(), torch.rand(4, 3, 16, 16), torch.arange(4)
    monkeypatch.setattr(opts, "native_bf16", lambda device: False)
    s = LangevinSampler(steps=1, options=ChainOptions(precision="auto"))
    s.sample(net, x, c)
    assert s.resolved_precision == "fp32" and "no native bf16" in capsys.readouterr().err
    monkeypatch.setattr(opts, "native_bf16", lambda device: True)
    monkeypatch.setattr(opts, "AUTO_GRAD_TOL", 1e-9)  # no bf16 gradient is this close
    s = LangevinSampler(steps=1, options=ChainOptions(precision="auto"))
    s.sample(net, x, c)
    assert s.resolved_precision == "fp32" and "differs from fp32" in capsys.readouterr().err
    monkeypatch.setattr(opts, "AUTO_GRAD_TOL", 0.5)
    s = LangevinSampler(steps=1, options=ChainOptions(precision="auto"))
    s.sample(net, x, c)
    assert s.resolved_precision == "bf16"


def test_compile_auto_only_pays_on_long_runs():
    assert not opts.resolve_compile("auto", steps=100, expected_chains=1)  # one `igebm sample` chain
    assert opts.resolve_compile("auto", steps=20, expected_chains=900)  # the digits training run
    assert not opts.resolve_compile("off", steps=10 ** 6, expected_chains=10 ** 6)


@pytest.mark.parametrize("key,value,msg", [
    ("run.precision", '"fp16"', "run.precision"), ("run.compile", '"yes"', "run.compile"),
    ("run.channels_last", '"on"', "run.channels_last"), ("run.threads", "-2", "run.threads")])
def test_bad_run_options_name_the_key(key, value, msg):
    with pytest.raises(UserError, match=msg.replace(".", r"\.")):
        load_config(None, [f"{key}={value}"])


def test_options_reach_the_sampler_and_training_runs_in_bf16(tmp_path):
    from igebm.training import Trainer, load_run

    cfg = tiny_config(run={"precision": "bf16", "channels_last": True}, train={"max_steps": 4})
    tr = Trainer(cfg, tmp_path / "r")
    assert tr.sampler.options == ChainOptions("bf16", True, "off", 4)
    tr.fit()
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())
    run = load_run(tmp_path / "r")
    assert run.sampler.options.precision == "bf16" and run.sampler.options.channels_last
    assert load_run(tmp_path / "r", overrides=["run.precision=fp32"]).sampler.options.precision == "fp32"
    with pytest.raises(UserError, match="sampler.steps"):
        load_run(tmp_path / "r", overrides=["sampler.steps=3"])


def test_bf16_training_resumes_exactly(tmp_path):
    from test_training import final_weights

    from igebm.training import Trainer

    cfg = tiny_config(run={"precision": "bf16", "channels_last": True, "threads": 1})
    Trainer(cfg, tmp_path / "full").fit()
    Trainer(cfg, tmp_path / "part").fit(max_steps=3)
    Trainer(cfg, tmp_path / "part", resume=True).fit()
    a, b = final_weights(tmp_path / "full"), final_weights(tmp_path / "part")
    assert all(torch.equal(a[k], b[k]) for k in a)


COMPILE_OK = shutil.which(os.environ.get("CC", "gcc")) is not None and hasattr(torch, "compile")


@pytest.mark.skipif(not COMPILE_OK, reason="torch.compile needs a C compiler (gcc) for inductor on CPU")
@pytest.mark.skipif(os.environ.get("IGEBM_SKIP_COMPILE") == "1", reason="IGEBM_SKIP_COMPILE=1")
@pytest.mark.slow  # compiling takes about 12 s on 2 idle cores
def test_compiled_step_equals_eager():
    torch.manual_seed(0)
    net = IGEBMResNet(1, dataclasses.replace(PRESETS["resnet-digits"], base_channels=8), 10).eval()
    x, c = torch.rand(16, 1, 8, 8), torch.arange(16) % 10
    kw = dict(steps=4, step_size=1.0, grad_clip=0.0)
    eager = LangevinSampler(**kw).sample(net, x, c, generator=torch.Generator().manual_seed(3), record_every=1)
    comp_s = LangevinSampler(**kw, options=ChainOptions(compile="step"))
    comp = comp_s.sample(net, x, c, generator=torch.Generator().manual_seed(3), record_every=1)
    assert not getattr(comp_s, "_compile_failed", False)
    assert torch.allclose(eager.x, comp.x, atol=1e-5)
    assert torch.allclose(eager.trace_energies[1], comp.trace_energies[1], atol=1e-5)


def test_igebm_sample_reports_images_per_second_and_picks_a_batch(tiny_run_dir, tmp_path, capsys):
    from igebm.cli import main

    out = tmp_path / "s.npz"
    assert main(["sample", str(tiny_run_dir), "--num", "40", "--steps", "2", "--out", str(out),
                 "--set", "run.precision=bf16"]) == 0
    text = capsys.readouterr().out
    assert "images/s" in text and "picked" in text and "precision bf16" in text
    assert main(["sample", str(tiny_run_dir), "--num", "8", "--steps", "1", "--out", str(out), "--batch", "4"]) == 0
    assert "batch 4;" in capsys.readouterr().out
    assert main(["sample", str(tiny_run_dir), "--num", "8", "--out", str(out), "--set", "sampler.steps=3"]) == 2


def test_an_energy_that_leaves_autocast_inside_still_samples_in_bf16_mode(capsys):
    class Guarded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = small_resnet()

        def forward(self, x, c):
            with torch.autocast("cpu", enabled=False):  # e.g. a numerically sensitive part kept fp32
                return self.net(x, c)

    res = LangevinSampler(steps=2, options=ChainOptions(precision="bf16")).sample(
        Guarded(), torch.rand(4, 3, 16, 16), torch.arange(4))
    assert torch.isfinite(res.x).all() and "outside autocast" in capsys.readouterr().err
