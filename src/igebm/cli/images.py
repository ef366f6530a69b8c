"""`igebm complete | restore | morph | steps-curve`: the image tasks from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from igebm import io
from igebm.cli.common import add_chain_args, add_input_args, chain_from_args, count, non_negative_int, positive_int
from igebm.errors import UserError
from igebm.evaluation.generation import best_row, steps_curve, steps_table
from igebm.evaluation.images import completion_metrics, restoration_metrics
from igebm.evaluation.judge import run_judge
from igebm.report.task_figures import completion_figure, plot_steps_curve, restoration_figure, save_morph_figures
from igebm.tasks.images.chain import condition_labels
from igebm.tasks.images.complete import DEFAULT_CHAIN as COMPLETE_CHAIN
from igebm.tasks.images.complete import complete
from igebm.tasks.images.inputs import read_inputs, require_images
from igebm.tasks.images.masks import CORRUPTION_HELP, MASK_HELP, corrupt, parse_mask
from igebm.tasks.images.morph import DEFAULT_STEPS as MORPH_STEPS
from igebm.tasks.images.morph import morph
from igebm.tasks.images.restore import DEFAULT_CHAIN as RESTORE_CHAIN
from igebm.tasks.images.restore import restore
from igebm.training.run import load_run

def cmd_complete(args) -> None:
    run = load_run(args.run_dir)
    if args.samples < 1:
        raise UserError(f"--samples must be at least 1 (got {args.samples})")
    chain = chain_from_args(args)
    inputs = read_inputs(run, args.input, args.split, args.num)
    x = inputs.images
    mask = parse_mask(args.mask, x.shape, args.seed)
    seen = np.where(mask, run.dataset("train").x.mean(0), x)  # what label inference may look at
    y, label_source = condition_labels(run, inputs, seen, args.labels)
    comps = complete(run, x, mask, y, args.samples, chain, args.seed)

    truth = None if args.no_truth else x
    out = Path(args.out or Path(args.run_dir) / f"complete_{Path(args.mask).stem.replace(':', '_')}")
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"inputs": x, "masks": mask, "completions": comps}
    if truth is not None:
        arrays["truth"] = truth
    if y is not None:
        arrays["labels"] = y.numpy()
    io.write_npz(out / "completions.npz", **arrays)
    completion_figure(x, mask, comps, out / "completions.png", truth=truth)
    metrics = {"mask": args.mask, "source": inputs.source, "num": len(x), "samples": args.samples,
               "conditioned_on": label_source,
               **chain.describe(run)}
    if truth is not None:
        judge = None
        if inputs.labels is not None:
            judge = run_judge(run)
        metrics.update(completion_metrics(comps, truth, mask, judge, inputs.labels))
        print(f"hidden-pixel MSE: mean of {args.samples} {metrics['mse_mean_of_s']:.4f}, "
              f"best of {args.samples} {metrics['mse_best_of_s']:.4f}; diversity {metrics['diversity']:.3f}"
              + (f"; judge agrees with the label {metrics['judge_agrees']:.0%}" if judge else ""))
    io.write_json(out / "metrics.json", metrics)
    print(f"wrote {out}/completions.npz, completions.png (input | masked | completions"
          f"{' | truth' if truth is not None else ''}), metrics.json")


def _register_complete(sub) -> None:
    p = sub.add_parser("complete", help="fill in hidden pixels (inpainting) with diverse completions",
                       description="Complete images: the hidden pixels start from noise and follow Langevin "
                                   "dynamics on the energy while the visible ones stay fixed; --samples "
                                   "independent chains per image. Writes completions.npz, completions.png "
                                   "and metrics.json (hidden-pixel MSE when the truth is known).")
    add_input_args(p)
    p.add_argument("--mask", required=True, help=MASK_HELP)
    p.add_argument("--samples", type=positive_int, default=4, help="independent completions per input (default 4)")
    add_chain_args(p, COMPLETE_CHAIN.rounds, COMPLETE_CHAIN.steps, "from noise in the hidden region")
    p.add_argument("--no-truth", action="store_true",
                   help="the input's hidden pixels are missing or garbage, so there is no truth to score "
                        "against (by default the input images are the truth)")
    p.add_argument("--out", help="output folder (default RUN_DIR/complete_<mask>)")
    p.set_defaults(func=cmd_complete)


def cmd_restore(args) -> None:
    run = load_run(args.run_dir)
    chain = chain_from_args(args)
    inputs = read_inputs(run, args.input, args.split, args.num)
    as_is = args.corruption == "none"
    clean = None if as_is else inputs.images
    bad = inputs.images if as_is else corrupt(args.corruption, inputs.images, args.seed)
    y, label_source = condition_labels(run, inputs, bad, args.labels)
    fixed = restore(run, bad, y, chain, args.seed)

    out = Path(args.out or Path(args.run_dir) / f"restore_{args.corruption.replace(':', '_')}")
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"corrupted": bad, "restored": fixed, **({"clean": clean} if clean is not None else {}),
              **({"labels": y.numpy()} if y is not None else {})}
    io.write_npz(out / "restored.npz", **arrays)
    restoration_figure(clean, bad, fixed, out / "restored.png")
    metrics = {"corruption": args.corruption, "source": inputs.source, "num": len(bad),
               "conditioned_on": label_source, **chain.describe(run)}
    if clean is not None:
        metrics.update(restoration_metrics(clean, bad, fixed))
        print(f"PSNR: corrupted {metrics['psnr_corrupted']:.2f} dB -> restored {metrics['psnr_restored']:.2f} dB "
              f"(3x3 median filter: {metrics['psnr_median3']:.2f} dB)")
    io.write_json(out / "metrics.json", metrics)
    cols = "clean | corrupted | median | EBM" if clean is not None else "input | median | EBM"
    print(f"wrote {out}/restored.npz, restored.png ({cols}), metrics.json")


def _register_restore(sub) -> None:
    p = sub.add_parser("restore", help="repair corrupted images (salt-and-pepper, gaussian, box)",
                       description="Restore images: the chain starts at the corrupted image and follows Langevin "
                                   "dynamics on the energy. The inputs are taken as clean and corrupted here, so "
                                   "PSNR before and after can be reported (--corruption none restores inputs "
                                   "that are already damaged).")
    add_input_args(p)
    p.add_argument("--corruption", default="salt-pepper:0.1",
                   help=CORRUPTION_HELP + "; or none: the inputs are already damaged (default salt-pepper:0.1)")
    add_chain_args(p, RESTORE_CHAIN.rounds, RESTORE_CHAIN.steps, "from the corrupted image")
    p.add_argument("--out", help="output folder (default RUN_DIR/restore_<corruption>)")
    p.set_defaults(func=cmd_restore)


def cmd_morph(args) -> None:
    run = load_run(args.run_dir)
    require_images(run)
    if not run.conditional:
        raise UserError("morph needs a class-conditional run (model.conditional = true)")
    k = run.num_classes
    for name, c in (("--from-class", args.from_class), ("--to-class", args.to_class)):
        if not 0 <= c < k:
            raise UserError(f"{name} {c} is out of range: the run has classes 0..{k - 1}")
    if args.from_class == args.to_class:
        raise UserError(f"--from-class and --to-class are both {args.to_class}; pick two different classes")
    if args.frames < 2 or args.num < 1 or args.steps < 1:
        raise UserError("--frames must be at least 2, --num and --steps at least 1")
    chain = chain_from_args(args)
    test = run.dataset("test")
    x = test.x[test.y == args.from_class][: args.num]
    if len(x) == 0:
        raise UserError(f"the test split has no images of class {args.from_class}")
    to = np.full(len(x), args.to_class)
    frames = morph(run, x, to, args.steps, args.frames, chain, args.seed)
    pred = run_judge(run).predict(frames[-1])

    out = Path(args.out or Path(args.run_dir) / f"morph_{args.from_class}_to_{args.to_class}")
    out.mkdir(parents=True, exist_ok=True)
    io.write_npz(out / "morph.npz", frames=frames, from_labels=np.full(len(x), args.from_class),
                        to_labels=to, frame_steps=np.linspace(0, args.steps, args.frames).round().astype(int))
    save_morph_figures(frames, out, steps=args.steps)
    metrics = {"from_class": args.from_class, "to_class": args.to_class, "num": int(len(x)), "steps": args.steps,
               "frames": args.frames, **chain.describe(run),
               "share_judged_to": float((pred == args.to_class).mean()),
               "share_still_from": float((pred == args.from_class).mean())}
    io.write_json(out / "metrics.json", metrics)
    print(f"after {args.steps} steps the judge labels {metrics['share_judged_to']:.0%} as {args.to_class} "
          f"(the target) and {metrics['share_still_from']:.0%} still as {args.from_class}")
    print(f"wrote {out}/morph.npz, morph_strip.png, morph.gif, metrics.json")


def _register_morph(sub) -> None:
    p = sub.add_parser("morph", help="turn test images of one class into another (conditional runs)",
                       description="Cross-class morphing: start at test images of class A and run Langevin "
                                   "dynamics conditioned on class B. Writes morph.npz (frames (F, N, C, H, W), "
                                   "from_labels, to_labels), morph_strip.png, morph.gif and metrics.json with the "
                                   "share the judge labels B at the end and the share still labelled A.")
    p.add_argument("run_dir", help="a trained class-conditional run")
    p.add_argument("--from-class", type=non_negative_int, required=True, help="class A of the starting test images")
    p.add_argument("--to-class", type=non_negative_int, required=True, help="class B to condition on")
    p.add_argument("--num", type=count, default=10, help="number of test images of class A (default 10)")
    p.add_argument("--frames", type=int, default=8, help="frames kept along the chain, start and end included "
                                                         "(default 8)")
    add_chain_args(p, None, MORPH_STEPS)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--out", help="output folder (default RUN_DIR/morph_A_to_B)")
    p.set_defaults(func=cmd_morph)


def parse_steps(text: str) -> list[int]:
    try:
        steps = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise UserError(f"--steps '{text}' is not a comma-separated list of integers, e.g. 10,20,40,80") from None
    if not steps or steps[0] < 1:
        raise UserError(f"--steps '{text}' needs positive step counts")
    return steps


def cmd_steps_curve(args) -> None:
    steps = parse_steps(args.steps)
    if args.num < 2:
        raise UserError(f"--num must be at least 2 (got {args.num})")
    run = load_run(args.run_dir)
    rows = steps_curve(run, run_judge(run), steps, args.num, args.seed)
    out = Path(args.out or Path(args.run_dir) / "steps_curve")
    out.mkdir(parents=True, exist_ok=True)
    io.write_json(out / "steps_curve.json", rows)
    plot_steps_curve(rows, out / "steps_curve.png")
    print(steps_table(rows))
    best = best_row(rows)
    print(f"lowest Fréchet / floor at {best['steps']} steps ({best['frechet_ratio']:.2f})")
    print(f"wrote {out}/steps_curve.json, steps_curve.png")


def _register_curve(sub) -> None:
    p = sub.add_parser("steps-curve", help="sample quality against the number of Langevin steps",
                       description="Adaptive computation: sample from noise once and judge the same chains after "
                                   "each step count (accuracy of the judge w.r.t. the conditioning label, "
                                   "Fréchet distance / train-vs-test floor, saturation, diversity).")
    p.add_argument("run_dir", help="a trained run")
    p.add_argument("--steps", default="10,20,40,80,160,320",
                   help="comma-separated step counts (default 10,20,40,80,160,320)")
    p.add_argument("--num", type=count, default=500, help="samples, cycling through the classes (default 500)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--out", help="output folder (default RUN_DIR/steps_curve)")
    p.set_defaults(func=cmd_steps_curve)




def register(sub) -> None:
    for add in (_register_complete, _register_restore, _register_morph, _register_curve):
        add(sub)
