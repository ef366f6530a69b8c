"""Image tasks on a trained run, against the issue's targets (2-core CPU: about 10 minutes on the digits).

Usage:
    python benchmarks/image_tasks.py RUN_DIR [--split test|val] [--parts complete,restore,morph,curve]
        [--infer-labels] [--num 360] [--samples 4] [--rounds 3] [--steps 20] [--step-size S] [--noise N]
        [--temperature T] [--restore-rounds 1] [--restore-steps 10] [--morph-per-pair 10] [--morph-steps 300]
        [--curve-num 500] [--json OUT.json] [--figures DIR]

Tune with --split val; report with --split test (the default).
Completion (bottom-half and center-box masks, S completions, conditioned on the true class as the
task's default; with --infer-labels also on the min-energy class) is reported as mean of S (a
typical answer), the average of the S answers, and best of S, an ORACLE that picks with the truth.
It is compared with the label-free baselines (mean image, nearest neighbour, conditional Gaussian)
and, since the EBM is given the label, with the label-aware ones (same-class nearest neighbour,
same-class conditional Gaussian, and S samples of the same-class conditional Gaussian).
Restoration: salt-and-pepper against a 3x3 median filter, with the true label and (with
--infer-labels) without it. Morph success over all ordered class pairs; the steps curve.
Prints markdown tables, then one JSON line with everything.
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

from igebm.evaluation.generation import steps_curve, steps_table
from igebm.evaluation.images import SuiteSettings, evaluate_image_tasks
from igebm.evaluation.judge import run_judge
from igebm.report.sections.images import draw_image_figures
from igebm.report.task_figures import plot_steps_curve
from igebm.tasks.images.chain import Chain
from igebm.training import load_run

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("run_dir")
p.add_argument("--split", choices=["val", "test"], default="test", help="val to tune, test to report (default)")
p.add_argument("--parts", default="complete,restore,morph,curve")
p.add_argument("--infer-labels", action="store_true", help="also complete/restore with min-energy labels")
p.add_argument("--num", type=int, default=360)
p.add_argument("--samples", type=int, default=4)
p.add_argument("--rounds", type=int)
p.add_argument("--steps", type=int)
p.add_argument("--step-size", type=float)
p.add_argument("--noise", type=float)
p.add_argument("--temperature", type=float)
p.add_argument("--restore-rounds", type=int)
p.add_argument("--restore-steps", type=int)
p.add_argument("--morph-per-pair", type=int, default=10)
p.add_argument("--morph-steps", type=int)
p.add_argument("--curve-num", type=int, default=500)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--json", help="also write the results here")
p.add_argument("--figures", help="write the figures (completions, restoration, morph matrix, strip, GIF, curve) here")
args = p.parse_args()

base = SuiteSettings()
knobs = {k: v for k, v in dict(step_size=args.step_size, noise_std=args.noise, temperature=args.temperature).items()
         if v is not None}


def chain(default: Chain, **counts) -> Chain:
    return dataclasses.replace(default, **knobs, **{k: v for k, v in counts.items() if v is not None})


s = SuiteSettings(
    split=args.split, num=args.num, samples=args.samples,
    complete_chain=chain(base.complete_chain, rounds=args.rounds, steps=args.steps),
    restore_chain=chain(base.restore_chain, rounds=args.restore_rounds, steps=args.restore_steps),
    morph_per_pair=args.morph_per_pair, morph_steps=args.morph_steps or base.morph_steps,
    morph_chain=chain(base.morph_chain))
parts = tuple(args.parts.split(","))

run = load_run(args.run_dir)
judge = run_judge(run)
t0 = time.time()
fig_dir = Path(args.figures) if args.figures else None
if fig_dir is not None:
    fig_dir.mkdir(parents=True, exist_ok=True)
r, arrays = evaluate_image_tasks(run, judge, s, seed=args.seed, parts=parts)
if "curve" in parts:
    r["steps_curve"] = steps_curve(run, judge, [10, 20, 40, 80, 160, 320], args.curve_num, args.seed, args.split)
if fig_dir is not None:
    draw_image_figures(arrays, fig_dir, s.morph_steps)
    if "steps_curve" in r:
        plot_steps_curve(r["steps_curve"], fig_dir / "steps_curve.png")
if args.infer_labels:
    inferred, _ = evaluate_image_tasks(run, judge, dataclasses.replace(s, labels="infer"), seed=args.seed,
                                       parts=tuple(x for x in parts if x in ("complete", "restore")))
    r["completion"] = r.get("completion", []) + inferred.get("completion", [])
    r["restoration_inferred_labels"] = inferred.get("restoration")
r["settings"] = {"run": str(Path(args.run_dir)), "run_step": run.step, "seconds": round(time.time() - t0, 1),
                 "complete_chain": s.complete_chain.describe(run), "restore_chain": s.restore_chain.describe(run),
                 "morph_steps": s.morph_steps, "morph_chain": s.morph_chain.describe(run), **vars(args)}

if "completion" in r:
    print(f"\n## Completion on the {args.split} split (MSE on the hidden pixels, S = {s.samples}, {args.num} images)")
    print("best of S is an ORACLE: it picks the completion closest to the truth.\n")
    cols = [("EBM mean of S", "mse_mean_of_s"), ("EBM average of S", "mse_of_average"),
            ("EBM best of S (oracle)", "mse_best_of_s"), ("mean image", "mse mean image"),
            ("nearest neighbour", "mse nearest neighbour"), ("conditional Gaussian", "mse conditional Gaussian"),
            ("nearest neighbour, same class", "mse nearest neighbour (same class)"),
            ("conditional Gaussian, same class", "mse conditional Gaussian (same class)"),
            ("same-class Gaussian samples, mean of S", "same-class Gaussian samples mse_mean_of_s"),
            ("same-class Gaussian samples, best of S (oracle)", "same-class Gaussian samples mse_best_of_s")]
    print("| mask | EBM conditioned on | " + " | ".join(c for c, _ in cols) + " | EBM diversity | Gaussian samples diversity"
          " | judge agrees, EBM | judge agrees, Gaussian samples |")
    print("|---" * (len(cols) + 6) + "|")
    for row in r["completion"]:
        print(f"| {row['mask']} | {row['conditioned_on']} | " + " | ".join(
            f"{row[k]:.4f}" if k in row else "-" for _, k in cols)
            + f" | {row['diversity']:.3f} | {row.get('same-class Gaussian samples diversity', float('nan')):.3f}"
            + f" | {row.get('judge_agrees', float('nan')):.3f}"
            + f" | {row.get('same-class Gaussian samples judge_agrees', float('nan')):.3f} |")
for key in ("restoration", "restoration_inferred_labels"):
    if r.get(key):
        m = r[key]
        print(f"\n## Salt-and-pepper restoration on the {args.split} split, conditioned on the "
              f"{m['conditioned_on']} class (PSNR, dB)")
        print(f"| corrupted | EBM | 3x3 median |\n|---|---|---|\n"
              f"| {m['psnr_corrupted']:.2f} | {m['psnr_restored']:.2f} | {m['psnr_median3']:.2f} |")
if "morph_success_mean" in r:
    print(f"\n## Morph over {len(r['morph_success_matrix']) ** 2 - len(r['morph_success_matrix'])} ordered pairs: "
          f"success {r['morph_success_mean']:.3f}, still the source class {r['morph_still_source_mean']:.3f}")
    print("| from \\ to | " + " | ".join(map(str, range(len(r["morph_success_matrix"])))) + " |")
    print("|---" * (len(r["morph_success_matrix"]) + 1) + "|")
    for a, row in enumerate(r["morph_success_matrix"]):
        print(f"| {a} | " + " | ".join("-" if v < 0 else f"{v:.1f}" for v in row) + " |")
if "steps_curve" in r:
    print("\n## Steps curve\n" + steps_table(r["steps_curve"]))
print(f"\n({r['settings']['seconds']} s)")
print(json.dumps(r))
if args.json:
    Path(args.json).write_text(json.dumps(r, indent=2))
