"""`make bench`: every measurement behind docs/RESULTS.md, one after another.

Slow (tens of minutes on a laptop CPU); never part of CI. Each script prints
its own table; run one alone with `python benchmarks/NAME.py --help`.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
HYBRID = "runs/bench/digits_hybrid"  # the classification-term recipe, for the robustness numbers
STEPS = [
    ["sampler_speed.py"],
    ["digits_quality.py", "--out", "runs/bench"],  # trains runs/bench/digits and runs/bench/digits_uncond
    ["image_tasks.py", "runs/bench/digits"],
    ["-m", "igebm", "train", "digits_hybrid", "--set", "train.max_minutes=0", "--set", "train.progress=false",
     "--out", HYBRID],
    ["generalisation.py", "runs/bench/digits_uncond", "runs/bench/digits", HYBRID, "--ood-seeds", "0,1,2"],
]

failed = []
for script, *args in STEPS:
    if script == "-m" and (Path(HYBRID) / "checkpoints").is_dir():
        print(f"\n=== {HYBRID} is already trained", flush=True)
        continue
    print(f"\n=== {script} {' '.join(args)}", flush=True)
    target = [script] if script == "-m" else [str(HERE / script)]
    if subprocess.run([sys.executable, *target, *args]).returncode != 0:
        failed.append(" ".join([script, *args[:2]]))
if failed:
    sys.exit(f"failed: {', '.join(failed)}")
