"""Recipe tuning for the digits demo: train with overrides, then judge samples.

Usage: python benchmarks/tune_digits.py OUT_DIR [key=value ...]
Prints one JSON line with accuracy, Fréchet ratio to the train-vs-test floor,
saturation and diversity after 20/60/200 steps from noise.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from igebm.config import load_config
from igebm.recipes import find_recipe
from igebm.data import load_dataset
from igebm.evaluation.judge import get_judge
from igebm.evaluation.metrics import conditional_accuracy, frechet_distance, saturation, within_class_diversity
from igebm.tasks.generation.sample import generate_at_steps, make_labels
from igebm.training import Trainer, load_run

out = Path(sys.argv[1])
cfg = load_config(find_recipe("digits"), sys.argv[2:])
Trainer._save_sample_grid = lambda self: None  # grids are not needed for tuning
t0 = time.time()
if not (out / "checkpoints").exists():  # an existing run is only evaluated
    Trainer(cfg, out).fit()
train_s = time.time() - t0
train, test = load_dataset(cfg.data, "train"), load_dataset(cfg.data, "test")
judge = get_judge(train, test, Path(".cache/judge_digits.safetensors"), 30, 0)
floor = frechet_distance(judge.features(train.x), judge.features(test.x))
run = load_run(out)
labels = make_labels(run, 500, all_labels=True)
res = {"train_s": round(train_s), "overrides": sys.argv[2:], "floor": round(floor, 3),
       "data_sat": round(saturation(test.x), 3), "data_div": round(within_class_diversity(test.x, test.y), 3)}
for s, x in generate_at_steps(run, labels, 500, [20, 60, 200]).items():
    x = x.numpy()
    res[f"s{s}"] = {"acc": round(conditional_accuracy(judge, x, labels.numpy()), 3),
                    "fd_ratio": round(frechet_distance(judge.features(x), judge.features(test.x)) / floor, 2),
                    "sat": round(saturation(x), 3),
                    "div": round(within_class_diversity(x, labels.numpy()), 3)}
print(json.dumps(res), flush=True)
