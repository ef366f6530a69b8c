"""What the digits-variant benchmarks (lessons.py, sampler_training.py) share: train once, judge on val then test."""

from pathlib import Path

from igebm.config import load_config
from igebm.evaluation.generation import pick_headline, steps_curve
from igebm.evaluation.judge import run_judge
from igebm.recipes import find_recipe
from igebm.training import Trainer, load_run

STEPS = [20, 60, 100, 200]


def train_variant(out: Path, overrides: list[str]):
    """The digits recipe with `overrides`, trained into `out` unless it already has checkpoints; the loaded run."""
    if not (out / "checkpoints").is_dir():
        Trainer(load_config(find_recipe("digits"), overrides), out).fit()
    return load_run(out)


def judged(run, num: int = 500) -> tuple[list[dict], int, dict]:
    """(validation curve, the step count it picks, the test row at that count): samples from noise, own sampler."""
    judge = run_judge(run)
    val = steps_curve(run, judge, STEPS, num, 0, "val")
    head = pick_headline(val)["steps"]
    return val, head, steps_curve(run, judge, [head], num, 0, "test")[0]


def common_args(parser, default_out: str):
    """--out, --only, --set and --json, the same in every variant benchmark."""
    parser.add_argument("--out", default=default_out)
    parser.add_argument("--only", help="comma-separated variant names")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra overrides for every variant")
    parser.add_argument("--json")
    return parser
