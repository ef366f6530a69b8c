"""Langevin sampler speed: igebm with each chain option against ebmkit and torchebm, same energy, one run.

Usage: python benchmarks/sampler_speed.py [--quick] [--modes train,eval] [--no-compile]
Peers are bench-only dependencies (`make bench` installs them with --no-deps; both need only
torch). Every sampler runs the same IGEBM-like conv energy (a spectral-normalised ResNet, in
training mode as during contrastive divergence; `--modes` adds eval), the same batch and steps,
with the same threads, on two shapes: the trained-digits-like energy (1x8x8, 32 channels,
batch 128) and a 64-channel 3x32x32 ResNet (batch 32).

Rows per shape: igebm fp32 (the default), channels_last, bf16, bf16 + channels_last, compiled
step, compiled step + bf16 + channels_last; each peer as it comes, with channels_last (model
and input), and with bf16 autocast + channels_last around its energy (neither peer has a CPU
bf16 option: torchebm's mixed precision is CUDA-only, ebmkit has none), so the comparison
stays fair. Reported: sample-steps a second (batch x steps / s), the ratio to the fastest peer
row in the same precision class and to the fastest peer row overall, achieved GFLOP/s
(FlopCounterMode on one forward + input-backward) and its share of the *measured conv peak*
(oneDNN convolutions in the same run, fp32 and bf16), not of an MKL matmul.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from igebm.models import PRESETS, IGEBMResNet
from igebm.sampling import LangevinSampler
from igebm.sampling import base as sampling_base
from igebm.sampling.options import ChainOptions, native_bf16

p = argparse.ArgumentParser()
p.add_argument("--quick", action="store_true", help="fewer repeats and steps")
p.add_argument("--modes", default="train")
p.add_argument("--no-compile", action="store_true", help="skip the compiled-step rows")
p.add_argument("--shapes", default="digits,32x32")
args = p.parse_args()
REPEATS, STEPS = (2, 10) if args.quick else (5, 20)
torch.manual_seed(0)


def conv_peak(dtype: torch.dtype, reps: int = 3) -> float:
    """Best GFLOP/s of large 3x3 convolutions (oneDNN), forward only, over a few shapes."""
    best = 0.0
    for n, c, hw in ((64, 128, 32), (64, 256, 16), (128, 64, 32)):
        x = torch.randn(n, c, hw, hw).to(dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(c, c, 3, 3).to(dtype).contiguous(memory_format=torch.channels_last)
        flops = 2 * n * c * c * 9 * hw * hw
        with torch.no_grad():
            F.conv2d(x, w, padding=1)
            t = time.perf_counter()
            for _ in range(reps):
                F.conv2d(x, w, padding=1)
            best = max(best, flops * reps / (time.perf_counter() - t) / 1e9)
    return best


def chain_flops(energy, x) -> float:
    """FLOPs of one chain step: a forward and the input-gradient backward (parameters frozen)."""
    for q in energy.parameters():
        q.requires_grad_(False)
    x = x.clone().requires_grad_(True)
    with FlopCounterMode(display=False) as fc:
        energy(x).sum().backward()
    for q in energy.parameters():
        q.requires_grad_(True)
    return fc.get_total_flops()


def timed(fn) -> float:
    fn()  # warm-up (and compilation)
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class Unconditional(torch.nn.Module):
    def __init__(self, net, bf16: bool = False):
        super().__init__()
        self.net, self.bf16 = net, bf16

    def forward(self, x):
        if not self.bf16:  # no autocast context at all, so a caller's autocast (igebm's bf16) stays on
            return self.net(x, None)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.net(x, None).float()


def peer_runs(energy, x0):
    out = {}
    try:
        from ebm.samplers.langevin import LangevinDynamics as EbmkitLangevin
        s = EbmkitLangevin(step_size=10.0, steps=STEPS, noise_scale=0.005, grad_clip=0.01, clamp=(0.0, 1.0))
        out["ebmkit"] = lambda: s.sample(energy, x0)
    except ImportError:
        print("ebmkit not installed (make bench installs it)")
    try:
        from torchebm.core import BaseModel
        from torchebm.samplers import LangevinDynamics as TorchebmLangevin

        class Wrapped(BaseModel):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                return self.inner(x)

        s2 = TorchebmLangevin(Wrapped(energy), step_size=10.0, noise_scale=0.005, clamp=(0.0, 1.0))
        out["torchebm"] = lambda: s2.sample(x=x0, n_steps=STEPS)
    except ImportError:
        print("torchebm not installed (make bench installs it)")
    return out


IGEBM_OPTIONS = [("fp32", ChainOptions()), ("channels_last", ChainOptions(channels_last=True)),
                 ("bf16", ChainOptions(precision="bf16")),
                 ("bf16 + channels_last", ChainOptions(precision="bf16", channels_last=True)),
                 ("compile step", ChainOptions(compile="step")),
                 ("compile step + bf16 + channels_last", ChainOptions(precision="bf16", channels_last=True,
                                                                       compile="step"))]
if args.no_compile:
    IGEBM_OPTIONS = [o for o in IGEBM_OPTIONS if o[1].compile == "off"]

print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {STEPS} steps, median of {REPEATS}; "
      f"native bf16: {native_bf16(torch.device('cpu'))}")
peak32, peak16 = conv_peak(torch.float32), conv_peak(torch.bfloat16)
print(f"conv peak (oneDNN 3x3 conv forward, channels_last, best of 3 shapes): fp32 {peak32:.0f} GFLOP/s, "
      f"bf16 {peak16:.0f} GFLOP/s\n")
print("| input | mode | sampler | options | sample-steps/s | vs fastest peer (same precision) | "
      "vs fastest peer (any) | GFLOP/s | % of conv peak |")
print("|---|---|---|---|---|---|---|---|---|")
SHAPES = {"digits": ((1, 8, 8), dataclasses.replace(PRESETS["resnet-digits"], base_channels=32), 128),
          "32x32": ((3, 32, 32), dataclasses.replace(PRESETS["resnet32"], base_channels=64), 32)}
for key in args.shapes.split(","):
    shape, spec, batch = SHAPES[key]
    net = IGEBMResNet(shape[0], spec, 0)
    x0 = torch.rand(batch, *shape)
    flops_per_step = chain_flops(Unconditional(net).eval(), x0)
    for mode in args.modes.split(","):
        net.train(mode == "train")
        rows = []  # (sampler, options, bf16?, seconds)
        for label, o in IGEBM_OPTIONS:
            ours = LangevinSampler(steps=STEPS, step_size=10.0, noise_std=0.005, grad_clip=0.01, options=o)
            energy = Unconditional(net)
            rows.append(("igebm", label, o.precision == "bf16", timed(lambda: ours.sample(energy, x0))))
            if label == "bf16 + channels_last":  # the fold's effect: the same without folded weights
                saved, sampling_base.WeightCache = sampling_base.WeightCache, lambda *a: None
                try:
                    rows.append(("igebm", "bf16 + channels_last, weights not folded (autocast casts per call)",
                                 True, timed(lambda: ours.sample(energy, x0.contiguous(
                                     memory_format=torch.channels_last)))))
                finally:
                    sampling_base.WeightCache = saved
        for label, cl, bf16 in (("as it comes", False, False), ("channels_last", True, False),
                                ("bf16 autocast + channels_last", True, True)):
            peer_net = IGEBMResNet(shape[0], spec, 0)
            peer_net.load_state_dict(net.state_dict())
            peer_net.train(mode == "train")
            if cl:
                peer_net = peer_net.to(memory_format=torch.channels_last)
            xp = x0.contiguous(memory_format=torch.channels_last) if cl else x0
            for name, fn in peer_runs(Unconditional(peer_net, bf16), xp).items():
                rows.append((name, label, bf16, timed(fn)))
        for name, label, bf16, sec in rows:
            peers_same = [s for n, _, b, s in rows if n != "igebm" and b == bf16]
            peers_any = [s for n, _, _, s in rows if n != "igebm"]
            rate = batch * STEPS / sec
            gflops = flops_per_step * STEPS / sec / 1e9
            same = f"{min(peers_same) / sec:.2f}x" if peers_same else "n/a"
            anyp = f"{min(peers_any) / sec:.2f}x" if peers_any else "n/a"
            peak = peak16 if bf16 else peak32
            print(f"| {'x'.join(map(str, shape))} (batch {batch}) | {mode} | {name} | {label} | {rate:,.0f} | {same} | "
                  f"{anyp} | {gflops:.1f} | {100 * gflops / peak:.0f}% of {'bf16' if bf16 else 'fp32'} |", flush=True)
