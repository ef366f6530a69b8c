"""Flags shared by the CLI's commands, and the checks that turn bad numbers into one-line errors."""

from __future__ import annotations

import argparse
import math

from igebm.errors import UserError
from igebm.tasks.images.chain import Chain
from igebm.tasks.images.inputs import LABELS_HELP


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number of at least 0 (budgets, step sizes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0 (minutes, temperatures)."""
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


MAX_COUNT = 1_000_000  # more images than any command can hold in memory at once


def count(text: str) -> int:
    """argparse type: a number of images, 1 to MAX_COUNT."""
    value = positive_int(text)
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_COUNT:,}, got {value}")
    return value


def add_input_args(p) -> None:
    """--input/--split, --num, --labels, --seed: how the image commands take their inputs."""
    p.add_argument("run_dir", help="a trained run (from `igebm train` or `igebm demo`)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", metavar="FILE.npz",
                     help="npz with 'images' (N, C, H, W) float in [0, 1] and optional integer 'labels' (N,)")
    src.add_argument("--split", choices=["train", "test"], help="use the run's own dataset split")
    p.add_argument("--num", type=count, help="use only the first NUM images")
    p.add_argument("--labels", choices=["given", "infer"], help=LABELS_HELP)
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for the chains' noise (and random masks)")


def add_chain_args(p, rounds: int | None, steps: int | None, start: str = "") -> None:
    """The task sampler's knobs; unset ones fall back to the run's sampler config.

    rounds=None: no --rounds flag, and --steps is the whole chain length.
    """
    run_steps = "the run's sampler.steps"
    if rounds is not None:
        p.add_argument("--rounds", type=positive_int, default=rounds,
                       help=f"rounds of --steps Langevin steps {start} (default {rounds})".replace("  ", " "))
    p.add_argument("--steps", type=positive_int, default=steps,
                   help=f"Langevin steps{' per round' if rounds is not None else ''} (default {steps or run_steps})")
    p.add_argument("--step-size", type=non_negative_float, help="Langevin step size (default: the run's sampler.step_size)")
    p.add_argument("--noise", type=non_negative_float,
                   help="std of the Langevin noise added each step (default: the run's sampler.noise_std)")
    p.add_argument("--temperature", type=positive_float,
                   help="divide the energy by this; below 1 is greedier and less diverse "
                        "(default: the run's sampler.temperature)")


def chain_from_args(args) -> Chain:
    """The task chain the flags ask for; bad values are one-line errors."""
    for name in ("rounds", "steps"):
        if getattr(args, name, None) is not None and getattr(args, name) < 1:
            raise UserError(f"--{name} must be at least 1")
    for name in ("step_size", "noise", "temperature"):
        value = getattr(args, name)
        if value is not None and not (value >= 0 and value != float("inf")):
            raise UserError(f"--{name.replace('_', '-')} must be a finite non-negative number")
    if args.temperature == 0:
        raise UserError("--temperature must be positive")
    return Chain(getattr(args, "rounds", 1), args.steps, args.step_size, args.noise, args.temperature)
