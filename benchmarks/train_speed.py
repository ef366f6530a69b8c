"""Training iterations a second of the digits recipe with each chain option, in one run.

    python benchmarks/train_speed.py [--steps 30] [--reps 2] [--threads 0]

Each option set trains the digits recipe in a fresh child process (benchmarks/contention.py's
child: warm-up steps, then `--steps` timed steps), interleaved over `--reps` rounds; the best
round is reported with the ratio to fp32. `compile=step` includes no compile time in the rate
(the warm-up compiles); its compile seconds are printed apart.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

OPTION_SETS = {
    "fp32": [],
    "channels_last": ["run.channels_last=true"],
    "bf16 + channels_last": ["run.precision=bf16", "run.channels_last=true"],
    "compile step": ["run.compile=step"],
    "compile step + bf16 + channels_last": ["run.compile=step", "run.precision=bf16", "run.channels_last=true"],
}
CHILD = Path(__file__).with_name("contention.py")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--only", help="comma-separated option-set names")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(OPTION_SETS)
    got = {n: [] for n in names}
    for _ in range(args.reps):
        for n in names:
            cmd = [sys.executable, str(CHILD), "--child", str(args.threads), "--steps", str(args.steps),
                   "--warmup", "2", "--limit", "120"] + [f"--set={s}" for s in OPTION_SETS[n]]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True, env=dict(os.environ))
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["notices"] = "; ".join(ln for ln in proc.stderr.splitlines() if ln.startswith("igebm:"))
            row["wall"] = time.perf_counter() - t0
            got[n].append(row)
    print(f"digits recipe, {args.steps} timed steps after 2 warm-up, best of {args.reps}, run.threads={args.threads}")
    print("| options | threads | it/s | vs fp32 | child wall s (incl. start-up, warm-up/compile) | notices |")
    print("|---|---|---|---|---|---|")
    base = max(r["it_per_s"] for r in got[names[0]])
    for n in names:
        best = max(got[n], key=lambda r: r["it_per_s"])
        print(f"| {n} | {best['threads']} | {best['it_per_s']:.2f} | {best['it_per_s'] / base:.2f}x | "
              f"{min(r['wall'] for r in got[n]):.0f} | {best['notices']} |", flush=True)


if __name__ == "__main__":
    main()
