"""Training speed alone and beside one busy CPU-bound process, before and after the thread fix.

For each thread setting, the digits recipe trains in a fresh child process (so each gets
its own thread pools), first alone, then while a busy process runs a torch matmul loop
with torch's default threads (one per logical CPU). Reported: training iterations a second
(after warm-up steps), and the slowdown beside the busy process. Run it under the CPU lock:
the busy process is part of the benchmark, nothing else may run.

    python benchmarks/contention.py [--steps 12] [--settings 2,1,0]

Settings are `run.threads` values: the machine's logical CPU count is torch's default
(the "before"), 0 is auto (`igebm.training.threads.auto_threads`, the "after").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BUSY = {"torch": "import torch\na = torch.randn(1024, 1024)\nwhile True:\n    a @ a\n",
        "numpy": "import numpy as np\na = np.random.rand(1024, 1024)\nwhile True:\n    a @ a\n"}


def child(threads: int, steps: int, warmup: int, limit: float, extra: list[str]) -> None:
    import torch

    from igebm.config import load_config
    from igebm.recipes import find_recipe
    from igebm.training import Trainer
    from igebm.training.resume import apply_determinism

    cfg = load_config(find_recipe("digits"), [
        "train.progress=false", "train.tensorboard=false", "train.max_minutes=0", f"run.threads={threads}",
        *extra])
    out = tempfile.mkdtemp(prefix="igebm_cont_")
    shutil.rmtree(out)
    t = Trainer(cfg, out)
    used = apply_determinism(cfg.run, t.threads)
    for _ in range(warmup):
        t.train_step()
    t0, n = time.perf_counter(), 0
    while n < steps and time.perf_counter() - t0 < limit:
        t.train_step()
        n += 1
    rate = n / (time.perf_counter() - t0)
    shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({"threads": used, "torch_threads": torch.get_num_threads(),
                      "interop": torch.get_num_interop_threads(), "it_per_s": rate, "steps": n}))


def measure(setting: int, args, busy: str | None) -> dict:
    proc = None
    if busy:
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        proc = subprocess.Popen([sys.executable, "-c", BUSY[busy]], env=env)  # its default threads
        time.sleep(2.0)  # let it reach full speed before the child looks at the load
    try:
        cmd = [sys.executable, __file__, "--child", str(setting), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--limit", str(args.limit)] + [f"--set={s}" for s in args.set]
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
        return json.loads(out.strip().splitlines()[-1])
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--limit", type=float, default=40.0, help="seconds per measurement at most")
    ap.add_argument("--settings", default=f"{os.cpu_count()},1,0")
    ap.add_argument("--set", action="append", default=[], help="extra config override for the trained recipe")
    ap.add_argument("--busy", default="torch,numpy", help="busy process kinds: torch, numpy")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.steps, args.warmup, args.limit, args.set)
        return
    rows = []
    print(f"{os.cpu_count()} logical CPUs; busy process: a {args.busy} matmul loop with its default threads; "
          f"best of {args.reps} interleaved runs; {args.set}")
    print("| run.threads | busy process | threads used (alone / busy) | it/s alone | it/s beside busy | slowdown |")
    print("|---|---|---|---|---|---|")
    settings = [int(v) for v in args.settings.split(",")]
    for kind in args.busy.split(","):
        got = {s: {"alone": [], "busy": []} for s in settings}
        for _ in range(args.reps):  # interleaved, so a disturbance hits every setting alike
            for s in settings:
                got[s]["alone"].append(measure(s, args, None))
                got[s]["busy"].append(measure(s, args, kind))
        for s in settings:
            alone = max(got[s]["alone"], key=lambda r: r["it_per_s"])
            busy = max(got[s]["busy"], key=lambda r: r["it_per_s"])
            slow = alone["it_per_s"] / max(busy["it_per_s"], 1e-9)
            label = f"{s} (torch default)" if s == os.cpu_count() else ("0 (auto)" if s == 0 else str(s))
            print(f"| {label} | {kind} | {alone['threads']} / {busy['threads']} | {alone['it_per_s']:.2f} | "
                  f"{busy['it_per_s']:.2f} | {slow:.1f}x |", flush=True)
            rows.append({"setting": s, "busy_kind": kind, "alone": got[s]["alone"], "busy": got[s]["busy"],
                         "slowdown": slow})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
