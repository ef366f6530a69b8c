"""Recipe tuning for the digits demo: train with overrides, then judge samples on the VALIDATION split.

Usage: python benchmarks/tune_digits.py OUT_DIR [key=value ...]
Prints one JSON line with accuracy, Fréchet ratio to the train-vs-validation floor,
saturation and diversity after 20/60/200 steps from noise. Tuning never looks at
the test split; report the chosen recipe with benchmarks/digits_quality.py.
"""

import json
import sys
import time
from pathlib import Path

from igebm.config import load_config
from igebm.evaluation.generation import steps_curve
from igebm.evaluation.judge import run_judge
from igebm.recipes import find_recipe
from igebm.training import Trainer, load_run

out = Path(sys.argv[1])
cfg = load_config(find_recipe("digits"), sys.argv[2:])
Trainer._save_sample_grid = lambda self: None  # grids are not needed for tuning
t0 = time.time()
if not (out / "checkpoints").exists():  # an existing run is only evaluated
    Trainer(cfg, out).fit()
train_s = time.time() - t0
run = load_run(out)
res = {"train_s": round(train_s), "overrides": sys.argv[2:], "split": "val"}
for r in steps_curve(run, run_judge(run), [20, 60, 200], 500, split="val"):
    res[f"s{r['steps']}"] = {"acc": round(r.get("accuracy", float("nan")), 3), "fd_ratio": round(r["frechet_ratio"], 2),
                             "sat": round(r["saturation"], 3), "div": round(r["diversity"], 3)}
print(json.dumps(res), flush=True)
