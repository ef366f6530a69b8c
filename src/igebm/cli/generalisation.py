"""`igebm ood | classify | robustness | baseline train`: generalisation from the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from igebm import io
from igebm.cli.common import count, non_negative_float, non_negative_int, positive_int
from igebm.data.ood_sets import GENERATED, check_set_names
from igebm.errors import UserError
from igebm.evaluation.attacks import evaluate_robustness
from igebm.evaluation.baselines.classifiers import BASELINE_KINDS, load_baselines, train_baseline
from igebm.evaluation.ood import auroc_rows, evaluate_ood, markdown_table
from igebm.report.figures import plot_lines
from igebm.report.task_figures import write_ood_histograms
from igebm.tasks.generalisation.classify import EnergyClassifier
from igebm.tasks.generalisation.ood import resolve_score
from igebm.training.run import load_run

def cmd_ood(args) -> None:
    sets = args.ood or list(GENERATED)
    check_set_names(sets)
    run = load_run(args.run_dir)
    resolve_score(run, args.score)  # a bad --score fails before any work
    table, scores = evaluate_ood(run, sets, args.score, args.in_split, not args.no_baselines, seed=args.seed)
    out = Path(args.out or Path(args.run_dir) / "ood")
    out.mkdir(parents=True, exist_ok=True)
    io.write_json(out / "ood.json", table)
    io.write_text(out / "ood_auroc.md", markdown_table(table))
    write_ood_histograms(scores, out)
    rows = auroc_rows(table)
    cols = list(rows[0])[1:]
    print("AUROC".ljust(36) + "".join(f"{c.split(':')[0][:10]:>11}" for c in cols))
    for r in rows:
        print(f"{r['model'][:35]:<36}" + "".join(f"{r[c]:>11.3f}" for c in cols))
    print(f"wrote {out}/ood.json, ood_auroc.md and energy histograms (ood_energy_hist*.png)")


def _register_ood(sub) -> None:
    p = sub.add_parser("ood", help="out-of-distribution detection by energy (AUROC table)",
                       description="Score in-distribution test images and OOD sets by energy (no Langevin "
                                   "steps) and by likelihood / classifier baselines.")
    p.add_argument("run_dir")
    p.add_argument("--in-split", choices=["train", "test"], default="test",
                   help="split of the run's own data that counts as in-distribution (default test)")
    p.add_argument("--ood", nargs="+", metavar="SET",
                   help=f"OOD sets (default all generated: {', '.join(GENERATED)}); on disk: "
                        "svhn:PATH, cifar100:PATH, cifar10:PATH, mnist:PATH, folder:PATH")
    p.add_argument("--score", default="energy",
                   help="EBM score: energy (default, the paper's: -E(x), or -min_y E(x, y) for conditional runs); "
                        "conditional runs also: min-energy, logsumexp (log sum_y exp -E(x, y)), mean-energy")
    p.add_argument("--no-baselines", action="store_true",
                   help="score only the EBM (skip the Gaussian mixture, MADE and max-softmax baselines)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the generated OOD sets and baselines (default 0)")
    p.add_argument("--out", help="output folder (default RUN_DIR/ood)")
    p.set_defaults(func=cmd_ood)


def parse_eps(text: str) -> list[float]:
    try:
        eps = [float(e) for e in text.split(",") if e.strip()]
    except ValueError:
        raise UserError(f"--eps '{text}' is not a comma-separated list of numbers, e.g. 0,0.05,0.1,0.2") from None
    if not eps or not all(math.isfinite(e) and e >= 0 for e in eps):
        raise UserError(f"--eps '{text}' needs finite non-negative numbers")
    return eps


def cmd_classify(args) -> None:
    run = load_run(args.run_dir)
    clf = EnergyClassifier(run, args.refine_steps, args.eps, "linf")
    test = run.dataset(args.split)
    x = torch.from_numpy(test.x[: args.num] if args.num else test.x)
    y = test.y[: len(x)]
    pred = clf.predict(x, args.seed).numpy()
    acc = float((pred == y).mean())
    print(f"clean accuracy of argmin_y E(x, y) on {len(x)} {args.split} images "
          f"({args.refine_steps} refinement steps): {acc:.3f}")


def cmd_robustness(args) -> None:
    eps = parse_eps(args.eps)
    run = load_run(args.run_dir)
    EnergyClassifier(run)  # fails early for unconditional runs
    attacks = ("paper", "adaptive") if args.attack == "both" else (args.attack,)
    if args.eot < 1:
        raise UserError(f"--eot must be at least 1, got {args.eot}")
    res = evaluate_robustness(run, args.norm, eps, args.pgd_steps, args.restarts, args.refine_steps, attacks,
                              args.num, args.seed, load_baselines(run.run_dir), args.eot)
    out = Path(args.out or Path(args.run_dir) / "robustness")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"robustness_{args.norm}.json"
    io.write_json(path, res)
    merged_path = out / "robustness.json"  # every norm run so far into this folder, keyed by norm
    try:
        merged = json.loads(merged_path.read_text())
    except (OSError, ValueError):
        merged = {}
    merged[args.norm] = res
    io.write_json(merged_path, merged)
    series = {name: [accs[f"{e:g}"] for e in eps] for name, accs in res["accuracy"].items()}
    plot_lines(eps, series, out / f"robustness_{args.norm}.png", f"epsilon ({args.norm})", "accuracy",
               f"Accuracy under PGD ({args.norm})")
    print(f"{'model':<32}" + "".join(f"{e:>8g}" for e in eps))
    for name, accs in series.items():
        print(f"{name:<32}" + "".join(f"{a:>8.3f}" for a in accs))
    print(f"wrote {merged_path} ({args.norm} under key '{args.norm}'), {path} and {out}/robustness_{args.norm}.png")


def cmd_baseline(args) -> None:
    run = load_run(args.run_dir)
    if not run.num_classes:
        raise UserError("baselines are classifiers: the run's dataset needs labels")
    if args.epochs < 1 or args.adv_steps < 1:
        raise UserError("--epochs and --adv-steps must be at least 1")
    path = train_baseline(run, args.kind, args.epochs, args.adv_eps, args.seed, args.adv_steps)
    meta = json.loads(path.with_suffix(".json").read_text())
    print(f"trained {args.kind} classifier: test accuracy {meta['test_accuracy']:.3f}; saved {path}")


def register(sub) -> None:
    _register_ood(sub)
    c = sub.add_parser("classify", help="classify by lowest energy, argmin_y E(x, y)",
                       description="Predict argmin_y E(x, y) after optional Langevin refinement of x.")
    c.add_argument("run_dir")
    c.add_argument("--refine-steps", type=non_negative_int, default=10, help="Langevin refinement steps (default 10, as in the paper)")
    c.add_argument("--eps", type=non_negative_float, default=8 / 255, help="L-inf ball the refinement stays in (default 8/255)")
    c.add_argument("--split", choices=["train", "test"], default="test")
    c.add_argument("--num", type=count, help="use only the first NUM images")
    c.add_argument("--seed", type=non_negative_int, default=0)
    c.set_defaults(func=cmd_classify)

    r = sub.add_parser("robustness", help="accuracy under PGD attacks, per epsilon",
                       description="PGD with a random start against the energy classifier and any trained "
                                   "baselines (see `igebm baseline train`).")
    r.add_argument("run_dir")
    r.add_argument("--norm", choices=["linf", "l2"], default="linf")
    r.add_argument("--eps", default="0,0.05,0.1,0.2,0.3", help="comma-separated budgets (default 0,0.05,0.1,0.2,0.3)")
    r.add_argument("--pgd-steps", type=positive_int, default=20,
                   help="PGD iterations per restart (default 20; step 2.5 eps / steps)")
    r.add_argument("--restarts", type=positive_int, default=1,
                   help="random restarts; an image counts as broken if any restart fools the classifier (default 1)")
    r.add_argument("--refine-steps", type=non_negative_int, default=10,
                   help="Langevin refinement steps of the energy classifier, inside the attack's ball (default 10)")
    r.add_argument("--eot", type=positive_int, default=2,
                   help="adaptive attack: refinement-noise samples averaged per gradient (default 2)")
    r.add_argument("--attack", choices=["paper", "adaptive", "both"], default="both",
                   help="paper: gradient without refinement (as released); adaptive: BPDA + EOT through it")
    r.add_argument("--num", type=count, default=200, help="test images to attack (default 200)")
    r.add_argument("--seed", type=non_negative_int, default=0)
    r.add_argument("--out", help="output folder (default RUN_DIR/robustness)")
    r.set_defaults(func=cmd_robustness)

    b = sub.add_parser("baseline", help="train baseline classifiers for comparison")
    bsub = b.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    t = bsub.add_parser("train", help="train a standard or PGD-adversarial classifier of the EBM's size")
    t.add_argument("run_dir")
    t.add_argument("--kind", choices=list(BASELINE_KINDS), required=True)
    t.add_argument("--epochs", type=positive_int, default=15, help="passes over the training split (default 15)")
    t.add_argument("--adv-eps", type=non_negative_float, default=0.1, help="L-inf budget of adversarial training (default 0.1)")
    t.add_argument("--adv-steps", type=positive_int, default=7, help="PGD steps per batch of adversarial training (default 7)")
    t.add_argument("--seed", type=non_negative_int, default=0)
    t.set_defaults(func=cmd_baseline)
