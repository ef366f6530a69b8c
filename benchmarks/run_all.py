"""`make bench`: every measurement behind docs/RESULTS.md, one after another.

Slow (a few hours on a 2-core laptop CPU; the hand data needs `pip install -e ".[hand]"`); never part of CI. Each step's
output (markdown tables, then a JSON line) is saved to docs/results/NAME.md,
headed by the command, the machine and the date, so RESULTS.md's numbers can be
checked against the file that produced them. Run one step alone with
`python benchmarks/NAME.py --help`; `python benchmarks/run_all.py STEP ...` runs only those.
"""

import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
DOCS = HERE.parent / "docs" / "results"
HYBRID = "runs/bench/digits_hybrid"  # the classification-term recipe, for the robustness numbers
FRESH = "runs/bench/digits_fresh"  # buffer chains re-conditioned on the data batch's labels (issue 10)
FRESH_CE = "runs/bench/digits_fresh_hybrid"
MIX = "runs/bench/digits_mix50"
COMP = "runs/bench/composition"  # the composition experts (seed 0), baselines and regressor
SIZE_SEEDS = f"{COMP}/size+{COMP}/size_seed1+{COMP}/size_seed2"  # seed ensembles: the mean energy of seeds 0, 1, 2
POSITION_SEEDS = f"{COMP}/position+{COMP}/position_seed1+{COMP}/position_seed2"


def train(recipe: str, out: str, *overrides: str) -> list[str]:
    """A training step: skipped when `out` already has checkpoints (delete it to retrain)."""
    sets = [a for o in ("train.max_minutes=0", "train.progress=false", *overrides) for a in ("--set", o)]
    return ["-m", "igebm", "train", recipe, *sets, "--out", out]


STEPS = {
    "digits_quality": ["digits_quality.py", "--out", "runs/bench"],  # trains runs/bench/digits and digits_uncond
    "image_tasks": ["image_tasks.py", "runs/bench/digits", "--infer-labels", "--figures", "runs/bench/image_figures"],
    "tune_completion": ["tune_completion.py", "runs/bench/digits"],
    "train_hybrid": train("digits_hybrid", HYBRID),
    "generalisation": ["generalisation.py", "runs/bench/digits_uncond", "runs/bench/digits", HYBRID,
                       "--ood-seeds", "0,1,2", "--gmm-sweep", "--restarts", "3"],
    "train_fresh": train("digits", FRESH, "buffer.label_policy=fresh"),
    "train_fresh_hybrid": train("digits_hybrid", FRESH_CE, "buffer.label_policy=fresh"),
    "train_mix50": train("digits", MIX, "buffer.label_policy=mix:0.5"),
    "one_model": ["one_model.py", "runs/bench/digits", FRESH, HYBRID, FRESH_CE, MIX],
    "sampler_speed": ["sampler_speed.py"],
    "precision_quality": ["precision_quality.py", "runs/bench/digits"],
    "train_speed": ["train_speed.py"],
    "contention": ["contention.py"],  # it starts its own busy process; OMP_NUM_THREADS is cleared for its runs
    "sampler_mixing": ["sampler_mixing.py", "--digits", "runs/bench/digits"],
    "gradient_budget": ["gradient_budget.py", "--out", "runs/bench/gradient_budget"],
    "time_to_quality": ["time_to_quality.py", "--out", "runs/bench/ttq"],  # about 15 minutes
    "scaling": ["scaling.py", "speed"],  # 2 processes x 1 thread against 1 x 1
    "lessons": ["lessons.py", "--out", "runs/bench/lessons"],  # ensemble, wider model, gradient penalty
    "sampler_training": ["sampler_training.py", "--out", "runs/bench/samplers"],  # each sampler at equal wall clock
    "composition": ["composition.py", "--out", COMP, "--steps", "300", "--own-steps", "100",
                    "--warm-steps", "100", "--and-weights", "32,1", "--or-steps", "100", "--or-sampling", "ancestral",
                    "--or-part-steps", "100"],  # trains its experts and baselines once; every setting chosen on val
    **{f"train_{kind}_seed{seed}": train(f"shapes_{kind}", f"{COMP}/{kind}_seed{seed}", f"run.seed={seed}")
       for kind in ("size", "position") for seed in (1, 2)},
    "train_position_seed3": train("shapes_position", f"{COMP}/position_seed3", "run.seed=3"),  # only for the spread
    "composition_seeds": ["composition_seeds.py", "--size-runs", SIZE_SEEDS,
                          "--position-runs", f"{POSITION_SEEDS}+{COMP}/position_seed3",
                          "--regressor", COMP, "--members", "3", "--and-weights", "64,1", "--and-weights", "32,1",
                          "--and-weights", "16,1", "--and-weights", "128,1"],  # validation only
    "composition_ensembles": ["composition.py", "--out", COMP, "--steps", "300", "--own-steps", "100", "--warm-steps",
                              "100", "--and-weights", "64,1", "--or-steps", "100", "--or-sampling", "ancestral",
                              "--or-part-steps", "100", "--parts", "shapes,ornot", "--size-runs", SIZE_SEEDS,
                              "--position-runs", POSITION_SEEDS, "--json", f"{COMP}/composition_test_seeds.json"],
    "trajectories": ["trajectories.py", "--run", "runs/bench/particles", "--train", "--tune",
                     "--constraint-grid", "0,1,10,100"],
    "trajectories_hand": ["trajectories.py", "--dataset", "hand", "--run", "runs/bench/hand", "--train", "--tune"],
    "trajectory_centre": ["trajectory_centre.py", "--run", "runs/bench/hand"],
}


def bench_env() -> dict:
    """Each step gets at most the usable cores (affinity, cgroup quota) as threads: never oversubscribed."""
    from igebm.training.threads import usable_cores

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(usable_cores()))
    return env


def machine() -> str:
    import torch
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"Python {platform.python_version()}")


def main(only: list[str]) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, (script, *args) in STEPS.items():
        if only and name not in only:
            continue
        if name.startswith("train_") and (Path(args[-1]) / "checkpoints").is_dir():
            print(f"\n=== {args[-1]} is already trained", flush=True)
            continue
        cmd = [sys.executable, *([script] if script == "-m" else [str(HERE / script)]), *args]
        shown = " ".join(["python", *([script] if script == "-m" else [f"benchmarks/{script}"]), *args])
        print(f"\n=== {shown}", flush=True)
        t0 = time.time()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=bench_env())
        print(proc.stdout, flush=True)
        minutes = (time.time() - t0) / 60
        header = (f"# {name}\n\nGenerated by `make bench` (benchmarks/run_all.py), "
                  f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, {minutes:.1f} min.\n\n"
                  f"Command: `{shown}`\n\nMachine: {machine()}\n\n")
        if not name.startswith("train_"):
            (DOCS / f"{name}.md").write_text(header + proc.stdout)
        if proc.returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
