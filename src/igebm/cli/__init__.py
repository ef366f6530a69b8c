"""The `igebm` command, one module per capability; each adds its subcommands with `register(sub)`.

User mistakes raise `UserError`; `main` prints them as one line and exits 2
(3 for training faults), never with a traceback. To add a command, write a
module here with `register(sub)` and list it in COMMAND_MODULES.
"""

from __future__ import annotations

import argparse
import sys

from igebm import __version__
from igebm.errors import UserError

COMMAND_MODULES = ("run", "images", "generalisation", "composition", "trajectories", "fidelity")


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (and exit code 2), without the usage block."""

    def error(self, message: str):
        raise BadFlag(f"{self.prog}: error: {message} (see {self.prog} --help)")


class BadFlag(Exception):
    """A flag argparse refused; `main` prints it as one line and returns 2 (as for any user mistake)."""


def build_parser() -> argparse.ArgumentParser:
    import importlib

    p = Parser(prog="igebm", description=(
        "Energy-based models (Du & Mordatch 2019): train with contrastive divergence and "
        "Langevin dynamics, sample, complete and repair images, detect OOD inputs, classify robustly."))
    p.add_argument("--version", action="version", version=f"igebm {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"igebm.cli.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except BadFlag as exc:
        print(exc, file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from igebm.cli.handler import run_command  # one line per failure: user, operational, or a bug

    cap_threads()
    return run_command(args.command, lambda: args.func(args))


def cap_threads() -> None:
    """Never more intra-op threads than usable cores (affinity, cgroup quota); torch counts the machine's.

    An explicit OMP_NUM_THREADS is left alone; training sets its own count (run.threads) on top."""
    import os

    if os.environ.get("OMP_NUM_THREADS"):
        return
    import torch

    from igebm.training.threads import apply_threads, usable_cores

    apply_threads(min(torch.get_num_threads(), usable_cores()))
