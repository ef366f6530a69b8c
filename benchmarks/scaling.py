"""Data-parallel scaling on CPU (gloo): speed of 2 processes x 1 thread against 1 x 1, and sample quality.

speed:   the digits recipe, same per-process batch (128), `--steps` timed training steps after
         `--warmup`, 1 process then 2, `--repeats` times alternating. Each rank's step time is split
         into the Langevin chains, the update, and the time inside collectives (DDP's gradient
         all-reduce, timed by a communication hook from launch to completion, plus the one-flag
         all-reduce that decides divergence together). Efficiency = (2-process it/s) / (1-process it/s):
         with the same per-process batch, 2 processes do twice the work per step.
quality: the digits recipe trained by 1 process and by 2 (`dist.batch=global`: 64 per rank, the same
         effective batch of 128 and the same lr), both judged by one judge on the test split at the
         recipe's headline step count (accuracy and Fréchet / train-vs-test floor); `--seeds 0,1` adds
         1-process runs with other seeds for the run-to-run noise.

Run it on an idle machine (it is a speed measurement):
  flock /tmp/igebm-cpu.lock python benchmarks/scaling.py speed --json runs/scaling/speed.json
  flock /tmp/igebm-cpu.lock python benchmarks/scaling.py quality --procs 1 --out runs/scaling
  flock /tmp/igebm-cpu.lock python benchmarks/scaling.py quality --procs 2 --out runs/scaling
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

FAST = ["train.max_minutes=0", "train.progress=false", "train.tensorboard=false"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _speed_worker(rank: int, world: int, port: int, steps: int, warmup: int, out: str) -> None:
    import torch.distributed as dist

    from igebm.config import load_config
    from igebm.recipes import find_recipe
    from igebm.training import Trainer, distributed
    from igebm.training.trainer import _Objective

    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    cfg = load_config(find_recipe("digits"), FAST + ["train.checkpoint_every=100000", "train.sample_every=100000"])
    trainer = Trainer(cfg, Path(out) / f"world{world}", rank=rank, world_size=world)
    timing = {"comm": 0.0, "chains": 0.0}
    if world > 1:
        trainer._ddp = distributed.wrap_ddp(_Objective(trainer.model, trainer._loss), trainer.device)

        def hook(state, bucket):  # DDP's all-reduce, timed from launch to completion
            t0 = time.perf_counter()
            fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()

            def done(f):
                state["comm"] += time.perf_counter() - t0
                return f.value()[0] / world
            return fut.then(done)
        trainer._ddp.register_comm_hook(timing, hook)
        flag = distributed.any_true

        def timed_flag(x):
            t0 = time.perf_counter()
            try:
                return flag(x)
            finally:
                timing["comm"] += time.perf_counter() - t0
        distributed.any_true = timed_flag
    sample = trainer.sampler.sample

    def timed_sample(*a, **k):
        t0 = time.perf_counter()
        try:
            return sample(*a, **k)
        finally:
            timing["chains"] += time.perf_counter() - t0
    trainer.sampler.sample = timed_sample
    for _ in range(warmup):
        trainer.train_step()
    if world > 1:
        dist.barrier()
    timing.update(comm=0.0, chains=0.0)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    seconds = time.perf_counter() - t0
    row = {"rank": rank, "world": world, "steps": steps, "seconds": seconds, "it_per_s": steps / seconds,
           "chains_share": timing["chains"] / seconds, "comm_share": timing["comm"] / seconds,
           "comm_ms_per_step": 1000 * timing["comm"] / steps,
           "params": sum(p.numel() for p in trainer.model.parameters())}
    Path(out, f"w{world}_r{rank}.json").write_text(json.dumps(row))
    if world > 1:
        dist.destroy_process_group()


def speed(args) -> list[dict]:
    import torch.multiprocessing as mp

    rows = []
    for rep in range(args.repeats):
        for world in (1, 2):
            with tempfile.TemporaryDirectory() as out:
                mp.start_processes(_speed_worker, args=(world, _port(), args.steps, args.warmup, out), nprocs=world,
                                   start_method="spawn")
                ranks = [json.loads(Path(out, f"w{world}_r{r}.json").read_text()) for r in range(world)]
            row = {"repeat": rep, "world": world, "it_per_s": min(r["it_per_s"] for r in ranks),
                   "rank_it_per_s": [round(r["it_per_s"], 3) for r in ranks],
                   "chains_share": round(statistics.mean(r["chains_share"] for r in ranks), 3),
                   "comm_share": round(statistics.mean(r["comm_share"] for r in ranks), 4),
                   "comm_ms_per_step": round(statistics.mean(r["comm_ms_per_step"] for r in ranks), 2),
                   "params": ranks[0]["params"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    one = statistics.median(r["it_per_s"] for r in rows if r["world"] == 1)
    two = statistics.median(r["it_per_s"] for r in rows if r["world"] == 2)
    summary = {"summary": True, "it_per_s_1proc": round(one, 3), "it_per_s_2proc": round(two, 3),
               "efficiency": round(two / one, 3), "speedup_samples_per_s": round(2 * two / one, 3),
               "target_met": two / one >= 0.85}
    print(json.dumps(summary), flush=True)
    return rows + [summary]


def quality(args) -> list[dict]:
    from igebm.evaluation.generation import steps_curve
    from igebm.evaluation.judge import get_judge
    from igebm.training import load_run

    out = Path(args.out)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        run = out / f"digits_p{args.procs}_s{seed}"
        sets = FAST + [f"run.seed={seed}"] + (["dist.batch=global"] if args.procs > 1 else []) + args.set
        cmd = [sys.executable, "-m", "igebm", "train", "digits", "--out", str(run)]
        cmd += ["--nproc", str(args.procs)] if args.procs > 1 else []
        cmd += [a for s in sets for a in ("--set", s)]
        t0 = time.time()
        if not (run / "checkpoints").is_dir():
            subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        minutes = (time.time() - t0) / 60
        trained = load_run(run)
        judge = get_judge(trained.dataset("train"), trained.dataset("test"), out / "judge" / "judge.safetensors",
                          trained.cfg.eval.judge_epochs, 0)  # one judge for every run: side by side
        head = trained.cfg.eval.headline_steps
        (test,) = steps_curve(trained, judge, [head], 500, seed=0, split="test")
        row = {"procs": args.procs, "seed": seed, "train_steps": trained.step, "train_minutes": round(minutes, 2),
               "effective_batch": trained.cfg.train.batch_size, "steps": head,
               "accuracy": round(test["accuracy"], 3), "frechet_ratio": round(test["frechet_ratio"], 3),
               "command": " ".join(cmd[1:])}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", choices=["speed", "quality"])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--seeds", default="0")
    p.add_argument("--out", default="runs/scaling")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe overrides (quality)")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args()
    rows = speed(args) if args.part == "speed" else quality(args)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
