"""Image tasks on a trained digits run, against the issue's targets.

Usage: python benchmarks/image_tasks.py RUN_DIR [--num 360] [--morph-per-pair 10]
Completion (bottom-half, center-box; S=4; conditioned on the true class, the default, and with
labels inferred by min energy), salt-and-pepper restoration vs a 3x3 median filter,
morph success over all 90 ordered class pairs, and the steps curve.
"""

import argparse
import json

from igebm.tasks.demo import run_judge
from igebm.tasks.image_suite import evaluate_completion, evaluate_image_tasks
from igebm.tasks.steps_curve import steps_curve
from igebm.training import load_run

p = argparse.ArgumentParser()
p.add_argument("run_dir")
p.add_argument("--num", type=int, default=360)
p.add_argument("--morph-per-pair", type=int, default=10)
p.add_argument("--morph-steps", type=int, default=300)
args = p.parse_args()

run = load_run(args.run_dir)
judge = run_judge(run)
r = evaluate_image_tasks(run, judge, num=args.num, morph_per_pair=args.morph_per_pair, morph_steps=args.morph_steps)
steps = run.sampler.steps
inferred = [evaluate_completion(run, judge, m, args.num, 4, 3, steps, labels="infer")[0] for m in ("bottom-half", "center-box")]
curve = steps_curve(run, judge, [10, 20, 40, 80, 160, 320], num=500)

print("\n## Completion (MSE on hidden pixels, S = 4)")
print("| mask | EBM labels | EBM best of S | EBM mean of S | mean image | nearest neighbour | conditional Gaussian | "
      "nearest neighbour (same class) | diversity | judge agrees |")
print("|---|---|---|---|---|---|---|---|---|---|")
for row in r["completion"] + inferred:
    print(f"| {row['mask']} | {row['labels']} | {row['mse_best_of_s']:.4f} | {row['mse_mean_of_s']:.4f} | "
          f"{row['mse mean image']:.4f} | {row['mse nearest neighbour']:.4f} | {row['mse conditional Gaussian']:.4f} | "
          f"{row['mse nearest neighbour (same class)']:.4f} | {row['diversity']:.3f} | {row['judge_agrees']:.3f} |")
m = r["restoration"]
print("\n## Salt-and-pepper restoration (PSNR, dB)")
print(f"corrupted {m['psnr_corrupted']:.2f} | EBM {m['psnr_restored']:.2f} | 3x3 median {m['psnr_median3']:.2f}")
print(f"\n## Morph success over 90 ordered pairs: {r['morph_success_mean']:.3f}")
print("\n## Steps curve")
print("| steps | accuracy | FD / floor | saturation | diversity |\n|---|---|---|---|---|")
for row in curve:
    print(f"| {row['steps']} | {row['accuracy']:.3f} | {row['frechet_ratio']:.2f} | {row['saturation']:.3f} | {row['diversity']:.3f} |")
print(json.dumps({"image_tasks": r, "inferred_label_completion": inferred, "steps_curve": curve}))
