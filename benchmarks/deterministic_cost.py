"""What `run.deterministic` costs, and whether two runs of the digits recipe are identical.

For each setting (threads x deterministic) it trains the real digits recipe for --steps steps
twice from scratch, in alternation with the other settings (so a busy machine slows them
alike), and prints seconds per step (median over reps) and the largest difference between the
two runs' final weights and replay buffers (0 means bit-identical).

    python benchmarks/deterministic_cost.py --steps 10 --reps 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

import torch

from igebm.config import load_config
from igebm.recipes import find_recipe
from igebm.training import Trainer

SETTINGS = [(2, False), (2, True), (1, True)]


def train_once(threads: int, deterministic: bool, steps: int, root: str) -> tuple[float, dict, torch.Tensor]:
    cfg = load_config(find_recipe("digits"), [
        f"train.max_steps={steps}", f"train.checkpoint_every={steps}", "train.progress=false",
        "train.tensorboard=false", "train.max_minutes=0", f"run.threads={threads}",
        f"run.deterministic={'true' if deterministic else 'false'}"])
    out = tempfile.mkdtemp(dir=root)
    shutil.rmtree(out)
    t = Trainer(cfg, out)
    t0 = time.perf_counter()
    t.fit()
    seconds = (time.perf_counter() - t0) / steps
    return seconds, {k: v.clone() for k, v in t.model.state_dict().items()}, t.buffer.x.clone()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--reps", type=int, default=2, help="runs per setting (at least 2, to compare them)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="igebm_det_")
    times = {s: [] for s in SETTINGS}
    finals = {s: [] for s in SETTINGS}
    for _ in range(max(2, args.reps)):
        for s in SETTINGS:
            sec, model, buf = train_once(*s, args.steps, root)
            times[s].append(sec)
            finals[s].append((model, buf))
    shutil.rmtree(root, ignore_errors=True)
    rows = []
    for s in SETTINGS:
        (m0, b0), (m1, b1) = finals[s][0], finals[s][1]
        dm = max(float((m0[k].double() - m1[k].double()).abs().max()) for k in m0)
        db = float((b0.double() - b1.double()).abs().max())
        rows.append({"threads": s[0], "deterministic": s[1], "sec_per_step": statistics.median(times[s]),
                     "all_sec_per_step": times[s], "model_maxdiff": dm, "buffer_maxdiff": db})
        print(f"threads={s[0]} deterministic={s[1]!s:<5} {statistics.median(times[s]):.3f} s/step "
              f"(runs: {', '.join(f'{t:.3f}' for t in times[s])}); two runs differ by "
              f"model {dm:.3g}, buffer {db:.3g}", flush=True)
    print(f"load average: {os.getloadavg()}; cpus: {os.cpu_count()}; torch {torch.__version__}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"steps": args.steps, "rows": rows, "loadavg": os.getloadavg()}, f, indent=1)


if __name__ == "__main__":
    main()
