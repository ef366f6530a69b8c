"""Langevin sampler speed: igebm against ebmkit and torchebm, on the same energy, in one run.

Usage: python benchmarks/sampler_speed.py [--quick]
Peers are bench-only dependencies (`make bench` installs them with --no-deps;
both need only torch). Every sampler runs the same IGEBM-like conv energy (a
spectral-normalised ResNet in training mode, as during contrastive divergence,
and again in eval mode), the same batch and number of steps, with the same
threads. Reported: sample-steps per second (batch x steps / s), the ratio to
the fastest peer, and achieved GFLOP/s (FlopCounterMode on one forward and
input-backward) against a float32 matmul's GFLOP/s measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from igebm.models import PRESETS, IGEBMResNet
from igebm.sampling import LangevinSampler

p = argparse.ArgumentParser()
p.add_argument("--quick", action="store_true", help="fewer repeats and steps (~30 s)")
args = p.parse_args()
REPEATS, STEPS = (2, 10) if args.quick else (5, 20)
torch.manual_seed(0)


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


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
    fn()  # warm-up
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class Unconditional(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x, None)


def peers(energy, x0):
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


print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {STEPS} steps, median of {REPEATS}")
peak = matmul_gflops()
print(f"matmul reference: {peak:.1f} GFLOP/s\n")
print("| input | mode | sampler | sample-steps/s | vs fastest peer | GFLOP/s | % of matmul |")
print("|---|---|---|---|---|---|---|")
for shape, spec, batch in (((1, 8, 8), dataclasses.replace(PRESETS["resnet-digits"], base_channels=32), 128),
                           ((3, 32, 32), dataclasses.replace(PRESETS["resnet32"], base_channels=64), 32)):
    net = IGEBMResNet(shape[0], spec, 0)
    energy = Unconditional(net)
    x0 = torch.rand(batch, *shape)
    flops_per_step = chain_flops(energy.eval(), x0)
    for mode in ("train", "eval"):
        energy.train(mode == "train")
        ours = LangevinSampler(steps=STEPS, step_size=10.0, noise_std=0.005, grad_clip=0.01)
        runs = {"igebm": lambda: ours.sample(energy, x0), **peers(energy, x0)}
        secs = {name: timed(fn) for name, fn in runs.items()}
        peer_best = min((v for k, v in secs.items() if k != "igebm"), default=None)
        for name, sec in secs.items():
            rate = batch * STEPS / sec
            ratio = f"{peer_best / sec:.2f}x" if peer_best else "n/a"
            gflops = flops_per_step * STEPS / sec / 1e9
            print(f"| {'x'.join(map(str, shape))} (batch {batch}) | {mode} | {name} | {rate:,.0f} | {ratio} | "
                  f"{gflops:.1f} | {100 * gflops / peak:.0f}% |", flush=True)
