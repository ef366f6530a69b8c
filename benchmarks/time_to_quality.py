"""Time to quality: igebm against ebmkit's and torchebm's own training loops, same wall-clock budgets.

Usage: python benchmarks/time_to_quality.py [--budgets 1,2,4] [--threads 2] [--out runs/ttq]
       [--json F] [--png docs/results/time_to_quality.png] [--only igebm,torchebm,ebmkit]
Run it under the CPU lock: the budgets are wall-clock and only mean something on an idle machine.

Each library trains ONCE, up to the largest budget; at each budget the clock is stopped, a snapshot
of its weights is sampled and judged, and the clock restarts. Only training steps are timed:
snapshot, sampling and judging are excluded from every budget.

Fairness choices (also in docs/results/time_to_quality.md):
- data: the digits TRAIN split (1,221 images, 8x8 in [0, 1]) for every library; judged against TEST.
- model: the SAME network for all three, igebm's `resnet-digits` ResNet at 32 channels with spectral
  norm (the demo recipe's energy). torchebm calls it as E(x, y) (its CD loss forwards `y` to the
  model, on data and on the chains); ebmkit's JEM needs a
  classifier, so it gets the same trunk, unconditional, with a 10-logit head (E(x, y) = -logit_y).
  Every row has `params`: the nets differ only in how the label enters.
- training loops: igebm's `digits` recipe (Trainer.train_step: K = 20, batch 128, lr 1e-3, 20% fresh
  chains, EMA 0.99). torchebm's README loop (`ContrastiveDivergence(model, sampler, k_steps=10,
  persistent=True, buffer_size=8192)`, Adam lr 1e-3, `loss, _ = cd(x, y=y)`; its defaults init_steps
  100, 5% new samples, energy_reg 0.001; `check_conditioning=False`, because its start-up probe
  rejects a conditional net whose label layers start near the identity, as igebm's do). Its
  `ContrastiveDivergenceTrainer` raises TypeError in 0.8.9 (it passes `use_mixed_precision` to a loss
  that does not take it), so the README loop is its canonical one. ebmkit's `Trainer` (its default
  Adam lr 1e-3, no EMA) with `JEMLoss(ContrastiveDivergence(LangevinDynamics, ReplayBuffer(8192)),
  conditional_negatives=True)`: its documented route to class-conditional images, K = 60 as in its
  README. Batch 128 for all.
- Langevin settings: the peers' sampler defaults are for 2-D toys (step 1e-3 / 1e-2, noise ~1) and do
  not move 8x8 images, so every library gets the IGEBM image step (step 10, noise 0.005, clamp [0, 1];
  gradient clip 0.01 where the library has one: igebm and ebmkit; torchebm has none), as
  benchmarks/sampler_speed.py does.
- evaluation: 500 chains from uniform noise on [0, 1], labels 0..9 in turn, 100 Langevin steps (the
  recipe's headline count) with each library's own sampler at its training settings, on the weights it
  would ship (igebm: EMA; peers: their raw weights, they keep no EMA by default). With --igebm-set,
  igebm samples for the recipe's `eval.headline_steps` instead (set it with the other overrides).
- threads: torch.set_num_threads(THREADS) (2 by default) for every library's training and sampling;
  the judge uses 1 thread.
- gradient evaluations: one = the input gradient of the energy for ONE example (a forward and an
  input-backward). Per training step: K x batch; torchebm's one-off buffer initialisation (init_steps x
  buffer) is counted too. Parameter-gradient passes of the loss are not counted.
- class coverage: the number of digits that make up at least 5% of the judged samples (of 10).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from igebm.config import load_config
from igebm.data import load_dataset
from igebm.evaluation.judge import get_judge
from igebm.evaluation.metrics import class_histogram, frechet_distance, sample_quality
from igebm.models import PRESETS, IGEBMResNet
from igebm.recipes import find_recipe

STEP, NOISE, CLIP, BATCH, EVAL_STEPS, NUM_EVAL = 10.0, 0.005, 0.01, 128, 100, 500

p = argparse.ArgumentParser()
p.add_argument("--budgets", default="1,2,4", help="minutes, comma-separated (default 1,2,4)")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--out", default="runs/ttq")
p.add_argument("--only", default="igebm,torchebm,ebmkit")
p.add_argument("--json", help="write the rows here too")
p.add_argument("--png", default="docs/results/time_to_quality.png")
p.add_argument("--igebm-set", action="append", default=[], metavar="KEY=VALUE",
               help="overrides of igebm's digits recipe (e.g. a proposed recipe change)")
args = p.parse_args()
BUDGETS = sorted(float(b) for b in args.budgets.split(","))
torch.set_num_threads(args.threads)

train = load_dataset(load_config(find_recipe("digits")).data, "train", 0)
test = load_dataset(load_config(find_recipe("digits")).data, "test", 0)
judge = get_judge(train, test, Path(args.out) / "judge.safetensors")
ref_feats = judge.features(test.x)
FLOOR = frechet_distance(judge.features(train.x), ref_feats)
X, Y = torch.from_numpy(train.x), torch.from_numpy(train.y)
LABELS = torch.arange(NUM_EVAL) % 10


def judged(x: torch.Tensor) -> dict:
    x = x.detach().cpu().numpy()
    q = sample_quality(judge, x, LABELS.numpy(), test.x)
    shares = class_histogram(judge, x, 10)
    return {"accuracy": q["accuracy"], "frechet_ratio": q["frechet"] / FLOOR,
            "coverage": int((shares >= 0.05).sum()), "min_share": float(shares.min()),
            "diversity": q["diversity"]}


def eval_noise() -> torch.Tensor:
    return torch.rand((NUM_EVAL, 1, 8, 8), generator=torch.Generator().manual_seed(0))


def resnet(cond: int) -> IGEBMResNet:
    import dataclasses
    return IGEBMResNet(1, dataclasses.replace(PRESETS["resnet-digits"], base_channels=32), cond)


# ------------------------------------------------------------------ the three contenders
class Igebm:
    name, evals_per_step, evals_once = "igebm", 20 * BATCH, 0

    def __init__(self, out: Path):
        from igebm.training.trainer import Trainer
        cfg = load_config(find_recipe("digits"), ["train.progress=false", "train.tensorboard=false", *args.igebm_set])
        self.headline = cfg.eval.headline_steps if args.igebm_set else EVAL_STEPS
        if args.igebm_set:
            self.name = f"igebm ({', '.join(args.igebm_set)})"
        self.trainer = Trainer(cfg, out / "igebm")
        self.evals_per_step = cfg.sampler.steps * cfg.train.batch_size
        self.params = sum(q.numel() for q in self.trainer.model.parameters())

    def step(self) -> None:
        self.trainer.train_step()

    def sample(self) -> torch.Tensor:
        ema = copy.deepcopy(self.trainer.ema).eval()
        g = torch.Generator().manual_seed(0)
        return self.trainer.sampler.sample(ema, eval_noise(), LABELS, steps=self.headline, generator=g).x


class Torchebm:
    name = "torchebm"

    def __init__(self, out: Path):
        from torchebm.core import BaseModel
        from torchebm.losses import ContrastiveDivergence
        from torchebm.samplers import LangevinDynamics

        class Energy(BaseModel):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, x, y=None):
                return self.inner(x, y)

        torch.manual_seed(0)
        self.model = Energy(resnet(10))
        self.sampler = LangevinDynamics(self.model, step_size=STEP, noise_scale=NOISE, clamp=(0.0, 1.0))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        # README loop; its ContrastiveDivergenceTrainer does not construct in 0.8.9 (passes use_mixed_precision)
        self.cd = loss = ContrastiveDivergence(self.model, self.sampler, k_steps=10, persistent=True, buffer_size=8192,
                                           check_conditioning=False)  # its probe: FiLM gains start equal
        self.evals_per_step = loss.k_steps * BATCH
        self.evals_once = loss.init_steps * loss.buffer_size
        self.params = sum(q.numel() for q in self.model.parameters())
        self.gen = torch.Generator().manual_seed(0)

    def step(self) -> None:
        idx = torch.randint(0, len(X), (BATCH,), generator=self.gen)
        loss, _ = self.cd(X[idx], y=Y[idx])
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    def sample(self) -> torch.Tensor:
        self.model.eval()  # spectral norm's power iteration stays as training left it
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            out = self.sampler.sample(x=eval_noise(), n_steps=EVAL_STEPS, model_kwargs={"y": LABELS})
        self.model.train()
        return out


class Logits(nn.Module):
    """igebm's digits trunk with a 10-logit head: the classifier ebmkit's JEM turns into E(x, y)."""

    def __init__(self):
        super().__init__()
        self.net = resnet(0)
        self.net.head = nn.Linear(self.net.head.in_features, 10)

    def forward(self, x):
        return self.net(x)


class Ebmkit:
    name, evals_once = "ebmkit", 0

    def __init__(self, out: Path):
        import ebm
        torch.manual_seed(0)
        self.energy = ebm.ClassifierEnergy(Logits())
        self.sampler = ebm.LangevinDynamics(step_size=STEP, steps=60, noise_scale=NOISE, grad_clip=CLIP,
                                            clamp=(0.0, 1.0))
        cd = ebm.ContrastiveDivergence(self.sampler, buffer=ebm.ReplayBuffer(8192, (1, 8, 8)))
        self.trainer = ebm.Trainer(self.energy, ebm.JEMLoss(cd, conditional_negatives=True), device="cpu")
        self.evals_per_step = self.sampler.steps * BATCH
        self.params = sum(q.numel() for q in self.energy.parameters())
        self.gen = torch.Generator().manual_seed(0)

    def step(self) -> None:
        self.trainer.fit((X, Y), steps=1, batch_size=BATCH, verbose=False)  # its own random batches

    def sample(self) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            out = self.sampler.sample(self.energy.condition(LABELS), eval_noise(), steps=EVAL_STEPS)
        self.energy.train()
        return out


# ------------------------------------------------------------------ the run
def run(lib) -> list[dict]:
    rows, trained, steps = [], 0.0, 0
    for budget in BUDGETS:
        while trained < 60 * budget:
            t = time.perf_counter()
            lib.step()
            trained += time.perf_counter() - t
            steps += 1
        t = time.perf_counter()
        q = judged(lib.sample())
        row = {"library": lib.name, "budget_min": budget, "train_seconds": round(trained, 1), "train_steps": steps,
               "grad_evals": lib.evals_once + steps * lib.evals_per_step, "params": lib.params,
               **{k: round(v, 4) if isinstance(v, float) else v for k, v in q.items()},
               "eval_seconds": round(time.perf_counter() - t, 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    metrics = (("accuracy", "judge accuracy"), ("frechet_ratio", "Fréchet / floor (log)"), ("coverage", "classes >= 5%"))
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for j, (key, label) in enumerate(metrics):
        for i, (xkey, xlabel) in enumerate((("train_seconds", "training wall time (s)"),
                                             ("grad_evals", "energy-gradient evaluations (per example)"))):
            ax = axes[i, j]
            for name in dict.fromkeys(r["library"] for r in rows):
                rs = [r for r in rows if r["library"] == name]
                ax.plot([r[xkey] for r in rs], [r[key] for r in rs], "o-", label=name)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
            if key == "frechet_ratio":
                ax.set_yscale("log")
            if xkey == "grad_evals":
                ax.set_xscale("log")
            ax.grid(alpha=0.3)
    axes[0, 0].legend()
    fig.suptitle(f"digits, time to quality ({args.threads} threads, {EVAL_STEPS} sampling steps from noise, test split)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
      f"budgets {BUDGETS} min, Fréchet floor (train vs test) {FLOOR:.3f}, judge test accuracy "
      f"{judge.accuracy(test):.4f}", flush=True)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
rows = []
for cls in (Igebm, Torchebm, Ebmkit):
    if cls.name in args.only.split(","):
        if cls is Igebm and (out / "igebm").exists():
            import shutil
            shutil.rmtree(out / "igebm")  # a fresh run each time
        rows += run(cls(out))
if args.json:
    Path(args.json).write_text(json.dumps(rows, indent=2))
if args.png:
    plot(rows, Path(args.png))
print("\n| library | budget (min) | train steps | grad evals | accuracy | Fréchet / floor | coverage |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['library']} | {r['budget_min']:g} | {r['train_steps']} | {r['grad_evals']:,} | {r['accuracy']:.3f} | "
          f"{r['frechet_ratio']:.2f} | {r['coverage']}/10 |")
peers = [r for r in rows if not r["library"].startswith("igebm")]
for r in (r for r in rows if r["library"].startswith("igebm")):
    at2 = [q for q in peers if q["budget_min"] == 2 * r["budget_min"]]
    if at2:
        best = min(at2, key=lambda q: q["frechet_ratio"])
        ok = r["frechet_ratio"] <= best["frechet_ratio"] and r["accuracy"] >= max(q["accuracy"] for q in at2)
        print(f"igebm at {r['budget_min']:g} min vs best peer at {2 * r['budget_min']:g} min ({best['library']}): "
              f"Fréchet {r['frechet_ratio']:.2f} vs {best['frechet_ratio']:.2f}, accuracy {r['accuracy']:.3f} vs "
              f"{max(q['accuracy'] for q in at2):.3f}: {'met' if ok else 'NOT met'}")
