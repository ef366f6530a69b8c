"""Mixing per cost: effective sample size per 1,000 energy-gradient evaluations, igebm against the peers.

Usage: python benchmarks/sampler_mixing.py [--digits RUN_DIR] [--chains 200] [--transitions 200] [--json OUT]

Every sampler starts at stationarity (exact samples for the analytic 2-D targets; for a trained
digits energy, states after 300 steps of the sampler itself) and runs the same number of
transitions. ESS comes from the multi-chain initial-positive-sequence estimator on two statistics
(the energy and the first coordinate, the worse of the two counts), per chain, divided by the
gradient evaluations each chain spent. Each sampler gets its own best step size from a grid (and
leapfrog count for HMC), so each is compared at its best. Peers, as they come: ebmkit 0.16.0's MALA
and HMC and TorchEBM 0.8.9's HamiltonianMonteCarlo (`make bench` installs them). The peers have no
walls, so on the digits energy every sampler runs unbounded (no clamp) for a fair comparison.
"""

import argparse
import json
import time

import numpy as np
import torch

from igebm.sampling import HMCSampler, MALASampler
from igebm.sampling.targets import TARGETS

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--digits", help="a trained digits run (conditional or not): also measure on its energy")
p.add_argument("--chains", type=int, default=200)
p.add_argument("--transitions", type=int, default=200)
p.add_argument("--skip-analytic", action="store_true", help="only the trained digits energy")
p.add_argument("--json")
args = p.parse_args()
torch.manual_seed(0)


def ess(trace: np.ndarray) -> float:
    """Multi-chain ESS of a (T, C) trace (Geyer's initial positive sequence on the averaged autocorrelation)."""
    t, c = trace.shape
    x = trace - trace.mean(0, keepdims=True)
    w = (x ** 2).sum(0).mean() / (t - 1)
    b = t * trace.mean(0).var(ddof=1) if c > 1 else 0.0
    var_plus = (t - 1) / t * w + b / t
    if var_plus <= 0:
        return float("nan")
    f = np.fft.rfft(x, n=2 * t, axis=0)
    acov = np.fft.irfft(f * np.conj(f), axis=0)[:t].mean(1) / t
    rho = 1 - (w - acov) / var_plus
    tau, k = -1.0, 0
    while k + 1 < t:
        pair = rho[k] + rho[k + 1]
        if pair <= 0:
            break
        tau += 2 * pair
        k += 2
    return float(c * t / max(tau, 1e-12))


class Stats:
    """Records the energy and the first coordinate after every transition."""

    def __init__(self, energy, cond):
        self.energy, self.cond, self.e, self.x0 = energy, cond, [], []

    def __call__(self, x):
        with torch.no_grad():
            self.e.append((self.energy(x) if self.cond is None else self.energy(x, self.cond)).numpy())
        self.x0.append(x.flatten(1)[:, 0].numpy())

    def ess(self) -> float:
        return min(ess(np.stack(self.e)), ess(np.stack(self.x0)))


def run_igebm(sampler, energy, x, cond):
    res = sampler.sample(energy, x, cond, steps=args.transitions, record_every=1,
                         generator=torch.Generator().manual_seed(1))
    rec = Stats(energy, cond)
    for xt in res.trace[:-1]:  # the state after each transition (the last entry repeats the final state)
        rec(xt)
    return rec.ess(), res.stats["gradient_evaluations"]


def run_ebmkit(kind, step, leapfrog, energy, x, cond):
    from ebm.samplers.hmc import HMC
    from ebm.samplers.langevin import MALA
    s = MALA(step_size=step, steps=1) if kind == "mala" else HMC(step_size=step, leapfrog_steps=leapfrog, steps=1)
    fn = (lambda z: energy(z)) if cond is None else (lambda z: energy(z, cond))
    rec = Stats(energy, cond)
    for _ in range(args.transitions):
        x = s.step(fn, x).detach()
        rec(x)
    per_step = 2 if kind == "mala" else leapfrog + 1
    return rec.ess(), per_step * args.transitions


def run_torchebm(step, leapfrog, energy, x, cond):
    from torchebm.core import BaseModel
    from torchebm.samplers import HamiltonianMonteCarlo
    shape = x.shape[1:]

    class Flat(BaseModel):
        def __init__(self):
            super().__init__()

        def forward(self, z):
            z = z.view(len(z), *shape)
            return energy(z) if cond is None else energy(z, cond)

    s = HamiltonianMonteCarlo(Flat(), step_size=step, n_leapfrog_steps=leapfrog)
    rec = Stats(energy, cond)
    z = x.flatten(1)
    g = torch.Generator().manual_seed(1)
    for _ in range(args.transitions):
        z = s.sample(x=z, n_steps=1, generator=g).detach()
        rec(z.view(len(z), *shape))
    return rec.ess(), (leapfrog + 1) * args.transitions


def grid(name, runner, settings):
    best = None
    for setting in settings:
        try:
            e, evals = runner(*setting)
        except Exception as exc:  # a peer that fails at a setting is skipped at it, and said so
            print(f"  {name} {setting}: failed ({type(exc).__name__}: {exc})")
            continue
        score = 1000 * e / args.chains / evals
        if best is None or score > best["ess_per_1000_grads"]:
            best = {"sampler": name, "setting": setting, "ess": e, "grads_per_chain": evals,
                    "ess_per_1000_grads": score}
    return best


def compare(label, energy, x, cond, steps, leapfrogs, clamp):
    print(f"\n## {label}: ESS per 1,000 gradient evaluations per chain ({args.chains} chains, "
          f"{args.transitions} transitions, each sampler at its best setting)\n")
    rows = [
        grid("igebm MALA", lambda s: run_igebm(MALASampler(step_size=s, clamp=clamp), energy, x, cond),
             [(s,) for s in steps["mala"]]),
        grid("igebm HMC", lambda s, L: run_igebm(HMCSampler(step_size=s, leapfrog_steps=L, clamp=clamp),
                                                  energy, x, cond),
             [(s, L) for s in steps["hmc"] for L in leapfrogs]),
    ]
    try:
        import ebm  # noqa: F401
        rows.append(grid("ebmkit MALA", lambda s: run_ebmkit("mala", s, 1, energy, x, cond),
                         [(s,) for s in steps["mala"]]))
        rows.append(grid("ebmkit HMC", lambda s, L: run_ebmkit("hmc", s, L, energy, x, cond),
                         [(s, L) for s in steps["hmc"] for L in leapfrogs]))
    except ImportError:
        print("ebmkit not installed (make bench installs it)")
    try:
        import torchebm  # noqa: F401
        rows.append(grid("torchebm HMC", lambda s, L: run_torchebm(s, L, energy, x, cond),
                         [(s, L) for s in steps["hmc"] for L in leapfrogs]))
    except ImportError:
        print("torchebm not installed (make bench installs it)")
    rows = [r for r in rows if r is not None]
    best_peer = max((r["ess_per_1000_grads"] for r in rows if not r["sampler"].startswith("igebm")), default=None)
    print("| sampler | best setting (step, leapfrog) | ESS | gradients per chain | ESS per 1,000 gradients | vs best peer |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['ess_per_1000_grads'] / best_peer:.2f}x" if best_peer else "-"
        print(f"| {r['sampler']} | {r['setting']} | {r['ess']:.0f} | {r['grads_per_chain']} | "
              f"{r['ess_per_1000_grads']:.2f} | {ratio} |", flush=True)
    return rows


out = {}
t0 = time.time()
for name, cls in ({} if args.skip_analytic else TARGETS).items():
    target = cls()
    x = target.exact(args.chains, torch.Generator().manual_seed(0))
    out[name] = compare(f"2-D {name}", target, x, None,
                        {"mala": [0.05, 0.1, 0.2, 0.4, 0.8], "hmc": [0.1, 0.2, 0.4, 0.8]}, [3, 8], None)

if args.digits:
    from igebm.training import load_run
    run = load_run(args.digits)
    cond = (torch.arange(args.chains) % run.num_classes) if run.labelled else None
    g = torch.Generator().manual_seed(0)
    warm = run.sampler.sample(run.energy, run.noise(args.chains, g), cond, steps=300, generator=g).x
    energy = run.energy
    for p_ in energy.parameters():
        p_.requires_grad_(False)
    out["digits"] = compare(f"trained digits energy ({args.digits}, from 300 Langevin steps, no walls)",
                            energy, warm, cond, {"mala": [1e-4, 1e-3, 1e-2], "hmc": [0.003, 0.01, 0.03]},
                            [3], None)
print(f"\n({time.time() - t0:.0f} s)")
print(json.dumps(out, default=str))
if args.json:
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2, default=str)
