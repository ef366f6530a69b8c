"""`igebm restore`: repair corrupted images by Langevin dynamics from the corrupted image.

The paper's salt-and-pepper protocol: 5% of pixels set to 0.1 and 5% to 0.9,
then rounds of K steps starting at the corrupted image, every pixel free to
move. The energy pulls the image back towards the data; PSNR is reported
before and after, and for a 3x3 median filter, the classic remedy for this noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import median_filter

from igebm.evaluation.metrics import psnr
from igebm.report.figures import save_grid
from igebm.tasks.images import (CORRUPTION_HELP, Chain, add_chain_args, add_input_args, condition_labels, corrupt,
                                read_inputs, refine)
from igebm.training.run import TrainedRun, load_run

DEFAULT_CHAIN = Chain(rounds=1)  # K = the run's sampler.steps; longer chains drift from the input (docs/RESULTS.md)


def restore(run: TrainedRun, corrupted: np.ndarray, y: torch.Tensor | None, chain: Chain = DEFAULT_CHAIN,
            seed: int = 0) -> np.ndarray:
    """Restored images: the chain starts at the corrupted image and every pixel moves."""
    return refine(run, torch.from_numpy(corrupted), y, chain, seed=seed).numpy()


def median3(x: np.ndarray) -> np.ndarray:
    """3x3 median filter per image and channel."""
    return median_filter(x, size=(1, 1, 3, 3), mode="nearest")


def restoration_metrics(clean: np.ndarray, corrupted: np.ndarray, restored: np.ndarray) -> dict:
    m = {"psnr_corrupted": psnr(corrupted, clean), "psnr_restored": psnr(restored, clean),
         "psnr_median3": psnr(median3(corrupted), clean)}
    m["psnr_gain"] = m["psnr_restored"] - m["psnr_corrupted"]
    m["psnr_gain_over_median3"] = m["psnr_restored"] - m["psnr_median3"]
    return m


def restoration_figure(clean: np.ndarray | None, corrupted: np.ndarray, restored: np.ndarray, path: Path,
                       rows: int = 10) -> Path:
    """Rows: clean | corrupted | 3x3 median | EBM (no clean column when unknown)."""
    rows = min(rows, len(corrupted))
    cols = [corrupted[:rows], median3(corrupted[:rows]), restored[:rows]]
    cols = ([clean[:rows]] if clean is not None else []) + cols
    return save_grid(np.stack(cols, 1).reshape(-1, *corrupted.shape[1:]), path, nrow=len(cols))


def cmd_restore(args) -> None:
    run = load_run(args.run_dir)
    chain = Chain.from_args(args)
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
    np.savez_compressed(out / "restored.npz", **arrays)
    restoration_figure(clean, bad, fixed, out / "restored.png")
    metrics = {"corruption": args.corruption, "source": inputs.source, "num": len(bad),
               "conditioned_on": label_source, **chain.describe(run)}
    if clean is not None:
        metrics.update(restoration_metrics(clean, bad, fixed))
        print(f"PSNR: corrupted {metrics['psnr_corrupted']:.2f} dB -> restored {metrics['psnr_restored']:.2f} dB "
              f"(3x3 median filter: {metrics['psnr_median3']:.2f} dB)")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    cols = "clean | corrupted | median | EBM" if clean is not None else "input | median | EBM"
    print(f"wrote {out}/restored.npz, restored.png ({cols}), metrics.json")


def register(sub) -> None:
    p = sub.add_parser("restore", help="repair corrupted images (salt-and-pepper, gaussian, box)",
                       description="Restore images: the chain starts at the corrupted image and follows Langevin "
                                   "dynamics on the energy. The inputs are taken as clean and corrupted here, so "
                                   "PSNR before and after can be reported (--corruption none restores inputs "
                                   "that are already damaged).")
    add_input_args(p)
    p.add_argument("--corruption", default="salt-pepper:0.1",
                   help=CORRUPTION_HELP + "; or none: the inputs are already damaged (default salt-pepper:0.1)")
    add_chain_args(p, DEFAULT_CHAIN.rounds, DEFAULT_CHAIN.steps, "from the corrupted image")
    p.add_argument("--out", help="output folder (default RUN_DIR/restore_<corruption>)")
    p.set_defaults(func=cmd_restore)
