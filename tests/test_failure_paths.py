"""Issue 9: every failure path keeps the CLI's contract, one table row per case.

Each row runs `igebm ...` in-process on a fresh copy of a tiny trained run and asserts:
the exit code (2 for a user mistake or an operational error, 3 for a training fault,
0 where the command must simply work), at most one line on stderr (and never a
traceback), and that the run directory is byte-for-byte unchanged (a fresh --out must
not even be created). Setup functions damage the run copy, inject faults (full disk,
permission denied) or hold the run's lock from another process.

The before/after counts in docs/robustness_of_runs.md come from running this file against the
parent commit's `src/` (PYTHONPATH=that/src) and against this one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from conftest import inject_nan
from igebm.cli import main

TINY = ["model.channels=8", "sampler.steps=3", "buffer.capacity=64", "train.batch_size=16",
        "train.max_steps=2", "train.checkpoint_every=1", "train.progress=false",
        "train.tensorboard=false", "train.sample_every=1000", "train.max_minutes=0"]


def tiny_sets(*extra: str) -> list[str]:
    return [a for s in TINY + list(extra) for a in ("--set", s)]


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under root with a hash of its bytes ({} when root does not exist)."""
    if not root.exists():
        return {}
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# ---------------------------------------------------------------------------- setups
# Each takes a context (ctx.run, ctx.tmp, ctx.monkeypatch) and prepares the case.

@dataclass
class Ctx:
    run: Path
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    procs: list = field(default_factory=list)


def last_ckpt(ctx: Ctx) -> Path:
    return sorted((ctx.run / "checkpoints").glob("step_*"))[-1]


def edit_state(value) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        (last_ckpt(ctx) / "state.json").write_text(value if isinstance(value, str) else json.dumps(value))
    return setup


def edit_config(value) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        path = ctx.run / "config.json"
        if callable(value):
            data = json.loads(path.read_text())
            value(data)
            path.write_text(json.dumps(data))
        elif isinstance(value, bytes):
            path.write_bytes(value)
        else:
            path.write_text(value if isinstance(value, str) else json.dumps(value))
    return setup


def set_key(section: str, key: str, value):
    def edit(data):
        data[section][key] = value
    return edit


def write_npz(**arrays) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        with open(ctx.tmp / "in.npz", "wb") as f:
            np.savez(f, **arrays)
    return setup


def nan_into(part: str, every_checkpoint: bool = False) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        folders = sorted((ctx.run / "checkpoints").glob("step_*"))
        for folder in folders if every_checkpoint else folders[-1:]:
            inject_nan(folder / f"{part}.safetensors")
    return setup


def corrupt_file(rel: str, data: bytes = b"garbage") -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        path = last_ckpt(ctx) / rel if not rel.startswith("/") else ctx.run / rel[1:]
        path.write_bytes(data)
    return setup


def truncate_file(rel: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        path = last_ckpt(ctx) / rel
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return setup


def stray_folder(ctx: Ctx) -> None:
    (ctx.run / "checkpoints" / "step_0000000_backup").mkdir()
    (ctx.run / "checkpoints" / "step_0000000_backup" / "state.json").write_text("{}")


def torn_log(ctx: Ctx) -> None:
    with open(ctx.run / "metrics.jsonl", "ab") as f:
        f.write(b'{"step": 5, "loss": 0.1')  # a kill in the middle of an append


def checkpoints_is_a_file(ctx: Ctx) -> None:
    shutil.rmtree(ctx.run / "checkpoints")
    (ctx.run / "checkpoints").write_text("not a folder")


def config_is_a_folder(ctx: Ctx) -> None:
    (ctx.run / "config.json").unlink()
    (ctx.run / "config.json").mkdir()


def new_with_log(ctx: Ctx) -> None:
    (ctx.tmp / "new").mkdir()
    (ctx.tmp / "new" / "metrics.jsonl").write_text('{"step": 10, "loss": 1.0}\n')


def new_with_files(ctx: Ctx) -> None:
    (ctx.tmp / "new").mkdir()
    (ctx.tmp / "new" / "notes.txt").write_text("my notes\n")


def a_file_at(rel: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        (ctx.tmp / rel).write_text("I am a file\n")
    return setup


def toml(text: bytes) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        (ctx.tmp / "r.toml").write_bytes(text)
    return setup


def fail_writes(err: int, substring: str = "") -> Callable[[Ctx], None]:
    """Every file write (the atomic writer's rename, safetensors' save) fails with `err`."""
    def setup(ctx: Ctx) -> None:
        import safetensors.torch as st

        real_replace, real_save = os.replace, st.save_file

        def replace(src, dst, *a, **k):
            if substring in str(dst) and "tmp" in os.path.basename(str(src)):
                raise OSError(err, os.strerror(err), str(src))
            return real_replace(src, dst, *a, **k)

        def save_file(tensors, filename, *a, **k):
            if substring in str(filename):
                raise OSError(err, os.strerror(err), str(filename))
            return real_save(tensors, filename, *a, **k)
        ctx.monkeypatch.setattr(os, "replace", replace)
        ctx.monkeypatch.setattr(st, "save_file", save_file)
    return setup


def hold_lock(ctx: Ctx) -> None:
    """Another process holds the run's lock (as a second `igebm train` would)."""
    code = ("import fcntl, os, sys, time\n"
            "f = open(sys.argv[1], 'a+')\n"
            "fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
            "f.seek(0); f.truncate(); f.write(f'{os.getpid()}\\n'); f.flush()\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(ctx.run / ".lock")], stdout=subprocess.PIPE, text=True)
    ctx.procs.append(proc)
    assert proc.stdout.readline().strip() == "locked"


def cifar_with(payload: bytes) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        folder = ctx.tmp / "cifar"
        folder.mkdir()
        (folder / "data_batch_1").write_bytes(payload)
        (folder / "test_batch").write_bytes(payload)
    return setup


BIG_BYTEARRAY = b"c__builtin__\nbytearray\n(I10000000000000\ntR."  # 40 bytes asking for 10 TB
BIG_ARRAY = (b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I1000000000000\ntS'b'\ntR.")
COMPLEX_OVERFLOW = b"c__builtin__\ncomplex\n(L" + b"9" * 400 + b"L\ntR."
CODEC_TRICK = b"c_codecs\nencode\n(Vabc\nVno-such-codec\ntR."
CODEC_ZLIB = b"c_codecs\nencode\n(C\x00\x00\x00\nVzlib\ntR."


# ---------------------------------------------------------------------------- the table

@dataclass
class Case:
    id: str
    argv: list[str]  # {run}, {tmp}, {new} are replaced
    code: int = 2
    setup: Callable[[Ctx], None] | None = None
    watch: str = "{run}"  # the folder that must be unchanged
    needs: str = ""  # a substring the one stderr line must contain


def train_new(*sets: str, config: str = "digits") -> list[str]:
    return ["train", config, "--out", "{new}"] + tiny_sets(*sets)


CASES: list[Case] = []
add = CASES.append

# --- config values that pass type checks but are out of range, non-finite or unavailable
for key_value, key in [
    ("train.lr=nan", "train.lr"), ("train.lr=inf", "train.lr"), ("train.lr=-1e-3", "train.lr"),
    ("train.beta1=2", "train.beta1"), ("train.beta2=-0.5", "train.beta2"), ("train.ema_decay=1.5", "train.ema_decay"),
    ("model.channels=-4", "model.channels"), ("model.hidden=0", "model.hidden"),
    ("data.test_fraction=1.5", "data.test_fraction"), ("data.val_fraction=nan", "data.val_fraction"),
    ("run.device=cuda", "run.device"), ("run.device=banana", "run.device"), ("run.device='cuda:7'", "run.device"),
    ("train.checkpoint_every=0", "train.checkpoint_every"), ("train.log_every=-1", "train.log_every"),
    ("sampler.temperature=0", "sampler.temperature"), ("sampler.step_size=inf", "sampler.step_size"),
    ("sampler.noise_std=nan", "sampler.noise_std"), ("sampler.steps=0", "sampler.steps"),
    ("train.max_minutes=nan", "train.max_minutes"), ("train.max_minutes=-1", "train.max_minutes"),
    ("train.divergence_energy=inf", "train.divergence_energy"), ("train.l2_alpha=inf", "train.l2_alpha"),
    ("train.batch_size=0", "train.batch_size"), ("train.max_steps=-3", "train.max_steps"),
    ("buffer.reinit_prob=1.5", "buffer.reinit_prob"), ("buffer.capacity=0", "buffer.capacity"),
    ("train.ce_temperature=0", "train.ce_temperature"), ("train.max_rollbacks=-1", "train.max_rollbacks"),
    ("run.seed=-1", "run.seed"), ("eval.steps=[0]", "eval.steps"), ("train.lr='fast'", "train.lr"),
    ("model.arch=resnet9000", "model.arch"), ("train.nosuchkey=1", "train.nosuchkey"),
    ("run.threads=-2", "run.threads"), ("run.deterministic=3", "run.deterministic"),
]:
    add(Case(f"set-{key_value}", train_new(key_value), 2, watch="{new}", needs=key))

# --- config files
add(Case("toml-not-utf8", ["train", "{tmp}/r.toml", "--out", "{new}"], 2, toml(b"[train]\nlr = 1e-3 # \xff\xfe\n"),
         watch="{new}"))
add(Case("toml-invalid", ["train", "{tmp}/r.toml", "--out", "{new}"], 2, toml(b"[train\nlr = \n"), watch="{new}"))
add(Case("toml-nan", ["train", "{tmp}/r.toml", "--out", "{new}"], 2, toml(b"[train]\nlr = nan\n"), watch="{new}",
         needs="train.lr"))
add(Case("toml-section-not-table", ["train", "{tmp}/r.toml", "--out", "{new}"], 2, toml(b"train = 3\n"),
         watch="{new}"))
add(Case("toml-extends-self", ["train", "{tmp}/r.toml", "--out", "{new}"], 2, toml(b'extends = "r.toml"\n'),
         watch="{new}"))
add(Case("toml-missing", ["train", "{tmp}/nope.toml", "--out", "{new}"], 2, watch="{new}"))
add(Case("set-no-equals", ["train", "digits", "--out", "{new}", "--set", "train.lr"], 2, watch="{new}"))

# --- where a fresh run goes
add(Case("train-out-is-a-file", train_new(), 2, a_file_at("new"), watch="{new}"))
add(Case("train-out-under-a-file", ["train", "digits", "--out", "{tmp}/afile/run"] + tiny_sets(), 2,
         a_file_at("afile"), watch="{tmp}/afile"))
add(Case("train-fresh-into-a-log", train_new(), 2, new_with_log, watch="{new}"))
add(Case("train-fresh-into-nonempty", train_new(), 2, new_with_files, watch="{new}"))
add(Case("train-fresh-over-a-run", ["train", "digits", "--out", "{run}"] + tiny_sets(), 2, needs="--resume"))
add(Case("train-resume-nothing", ["train", "digits", "--out", "{new}", "--resume"] + tiny_sets(), 2, watch="{new}"))
add(Case("train-second-writer", ["train", "digits", "--out", "{run}", "--resume"] + tiny_sets("train.max_steps=8"),
         2, hold_lock, needs="pid"))
add(Case("train-resume-changes-model", ["train", "digits", "--out", "{run}", "--resume"]
         + tiny_sets("train.max_steps=8", "model.channels=16"), 2, needs="model.channels"))
add(Case("train-resume-changes-batch", ["train", "digits", "--out", "{run}", "--resume"]
         + tiny_sets("train.max_steps=8", "train.batch_size=8"), 2, needs="train.batch_size"))

# --- CLI numbers
for argv, flag in [
    (["sample", "{run}", "--num", "0"], "--num"), (["sample", "{run}", "--num", "-5"], "--num"),
    (["sample", "{run}", "--num", "100000000000"], "--num"), (["sample", "{run}", "--steps", "-1"], "--steps"),
    (["sample", "{run}", "--num", "two"], "--num"), (["sample", "{run}", "--label", "99"], "--label"),
    (["classify", "{run}", "--num", "-1"], "--num"), (["classify", "{run}", "--num", "0"], "--num"),
    (["classify", "{run}", "--eps", "nan"], "--eps"), (["classify", "{run}", "--refine-steps", "-1"], "--refine-steps"),
    (["robustness", "{run}", "--eps", "nan"], "--eps"), (["robustness", "{run}", "--eps", "0,inf"], "--eps"),
    (["robustness", "{run}", "--eps", "-0.1"], "--eps"), (["robustness", "{run}", "--pgd-steps", "-1"], "--pgd-steps"),
    (["robustness", "{run}", "--restarts", "0"], "--restarts"), (["robustness", "{run}", "--num", "0"], "--num"),
    (["robustness", "{run}", "--refine-steps", "-2"], "--refine-steps"),
    (["complete", "{run}", "--split", "test", "--mask", "bottom-half", "--samples", "0"], "--samples"),
    (["complete", "{run}", "--split", "test", "--mask", "bottom-half", "--num", "-1"], "--num"),
    (["complete", "{run}", "--split", "test", "--mask", "bottom-half", "--step-size", "nan"], "--step-size"),
    (["restore", "{run}", "--split", "test", "--steps", "0"], "--steps"),
    (["morph", "{run}", "--from-class", "1", "--to-class", "2", "--frames", "1"], "--frames"),
    (["morph", "{run}", "--from-class", "1", "--to-class", "2", "--num", "0"], "--num"),
    (["steps-curve", "{run}", "--num", "1"], "--num"), (["steps-curve", "{run}", "--steps", "10,-5"], "--steps"),
    (["baseline", "train", "{run}", "--kind", "standard", "--epochs", "0"], "--epochs"),
    (["baseline", "train", "{run}", "--kind", "pgd-adversarial", "--adv-eps", "nan"], "--adv-eps"),
    (["demo", "--out", "{new}", "--minutes", "nan"], "--minutes"),
    (["demo", "--out", "{new}", "--minutes", "-1"], "--minutes"),
]:
    add(Case(" ".join(a for a in argv if a != "{run}"), argv, 2, needs=flag,
             watch="{new}" if "{new}" in argv else "{run}"))

# --- image inputs
for name, arrays in [
    ("npz-string-images", {"images": np.array(["a", "b"])}),
    ("npz-0d-images", {"images": np.array(0.5)}),
    ("npz-object-free-bytes", {"images": np.frombuffer(b"abcd" * 64, dtype="S4")}),
    ("npz-0d-labels", {"images": np.zeros((2, 1, 8, 8), np.float32), "labels": np.array(3)}),
    ("npz-string-labels", {"images": np.zeros((2, 1, 8, 8), np.float32), "labels": np.array(["a", "b"])}),
    ("npz-nan-images", {"images": np.full((2, 1, 8, 8), np.nan, np.float32)}),
]:
    add(Case(name, ["complete", "{run}", "--input", "{tmp}/in.npz", "--mask", "bottom-half"], 2, write_npz(**arrays)))
add(Case("npz-not-an-npz", ["complete", "{run}", "--input", "{tmp}/in.npz", "--mask", "bottom-half"], 2,
         a_file_at("in.npz")))
add(Case("sample-out-is-a-folder", ["sample", "{run}", "--num", "2", "--steps", "1", "--out", "{run}/checkpoints"],
         2, needs="checkpoints"))
add(Case("sample-out-under-a-file", ["sample", "{run}", "--num", "2", "--steps", "1", "--out", "{tmp}/afile/s.npz"],
         2, a_file_at("afile"), needs="afile"))

# --- a damaged run directory
add(Case("stray-backup-folder", ["info", "{run}"], 0, stray_folder))
add(Case("stray-backup-folder-resume", ["train", "digits", "--out", "{run}", "--resume"]
         + tiny_sets("train.max_steps=2"), 0, stray_folder))
add(Case("torn-log-line-info", ["info", "{run}"], 0, torn_log, needs="torn"))
for name, value in [("state-not-json", "{nope"), ("state-empty-object", {}), ("state-list", []),
                    ("state-step-string", {"step": "ten", "optimizer": {}}), ("state-no-optimizer", {"step": 2}),
                    ("state-optimizer-wrong", {"step": 2, "optimizer": {"param_groups": "x"}, "world_size": 1}),
                    ("state-binary", "\udcff")]:
    setup = edit_state(value) if name != "state-binary" else corrupt_file("state.json", b"\xff\xfe\x00")
    add(Case(f"{name}-resume", ["train", "digits", "--out", "{run}", "--resume"] + tiny_sets("train.max_steps=8"),
             2, setup, needs="state.json"))
    needs_optimizer = name in ("state-no-optimizer", "state-optimizer-wrong")  # sample reads only the step
    add(Case(f"{name}-sample", ["sample", "{run}", "--num", "2", "--steps", "1", "--out", "{tmp}/s.npz"],
             0 if needs_optimizer else 2, setup))
for name, value in [("config-empty-object", {}), ("config-list", []), ("config-not-json", "{"),
                    ("config-not-utf8", b"\xff\xfe{}"), ("config-lr-string", set_key("train", "lr", "x")),
                    ("config-lr-nan", set_key("train", "lr", float("nan"))),
                    ("config-section-list", lambda d: d.__setitem__("model", [1, 2])),
                    ("config-channels-negative", set_key("model", "channels", -4))]:
    add(Case(name, ["sample", "{run}", "--num", "2", "--steps", "1", "--out", "{tmp}/s.npz"], 2, edit_config(value),
             needs="config.json"))
add(Case("config-is-a-folder", ["info", "{run}"], 2, config_is_a_folder, needs="config.json"))
add(Case("checkpoints-is-a-file", ["info", "{run}"], 2, checkpoints_is_a_file, needs="checkpoints"))
add(Case("ema-garbage-sample", ["sample", "{run}", "--num", "2", "--out", "{tmp}/s.npz"], 2,
         corrupt_file("ema.safetensors"), needs="ema.safetensors"))
add(Case("ema-truncated-sample", ["sample", "{run}", "--num", "2", "--out", "{tmp}/s.npz"], 2,
         truncate_file("ema.safetensors"), needs="ema.safetensors"))
add(Case("model-garbage-resume", ["train", "digits", "--out", "{run}", "--resume"] + tiny_sets("train.max_steps=8"),
         2, corrupt_file("model.safetensors"), needs="model.safetensors"))
add(Case("run-dir-is-a-file", ["sample", "{tmp}/afile", "--num", "2"], 2, a_file_at("afile"), watch="{tmp}/afile"))

# --- poisoned state
add(Case("nan-ema-sample", ["sample", "{run}", "--num", "2", "--steps", "1", "--out", "{tmp}/s.npz"], 2,
         nan_into("ema"), needs="non-finite"))
add(Case("nan-ema-info", ["info", "{run}"], 2, nan_into("ema"), needs="non-finite"))
add(Case("nan-model-resume", ["train", "digits", "--out", "{run}", "--resume"] + tiny_sets("train.max_steps=8"),
         3, nan_into("model"), needs="non-finite"))
add(Case("nan-optimizer-resume", ["train", "digits", "--out", "{run}", "--resume"] + tiny_sets("train.max_steps=8"),
         3, nan_into("optimizer"), needs="non-finite"))
add(Case("nan-buffer-resume", ["train", "digits", "--out", "{run}", "--resume"] + tiny_sets("train.max_steps=8"),
         3, nan_into("rank0"), needs="non-finite"))
add(Case("diverged-stop", train_new("train.divergence_energy=1e-9"), 3, watch="{tmp}/none", needs="diverged"))
add(Case("diverged-classification-term", train_new("train.ce_alpha=1e38", "train.ce_temperature=1e-30", "train.divergence_energy=1e30",
                                                   config="digits_hybrid"), 3, watch="{tmp}/none",
         needs="diverged"))

# --- operational errors
add(Case("disk-full-sample", ["sample", "{run}", "--num", "2", "--steps", "1", "--out", "{tmp}/s.npz"], 2,
         fail_writes(errno.ENOSPC), needs="s.npz"))
add(Case("permission-denied-sample", ["sample", "{run}", "--num", "2", "--steps", "1", "--out", "{tmp}/s.npz"], 2,
         fail_writes(errno.EACCES), needs="s.npz"))
add(Case("disk-full-resume-checkpoint", ["train", "digits", "--out", "{run}", "--resume"]
         + tiny_sets("train.max_steps=3", "train.log_every=1000"), 2, fail_writes(errno.ENOSPC, "step_0000003"),
         watch="{run}/checkpoints", needs="No space"))
add(Case("disk-full-fresh-checkpoint", train_new(), 2, fail_writes(errno.ENOSPC, ".safetensors"),
         watch="{tmp}/none", needs="No space"))

# --- the restricted unpickler
for name, payload in [("pickle-bytearray-10TB", BIG_BYTEARRAY), ("pickle-ndarray-1T", BIG_ARRAY),
                      ("pickle-complex-overflow", COMPLEX_OVERFLOW), ("pickle-codec-lookup", CODEC_TRICK),
                      ("pickle-codec-zlib", CODEC_ZLIB), ("pickle-os-system", b"cos\nsystem\n(Vtrue\ntR.")]:
    add(Case(name, ["train", "cifar10", "--out", "{new}", "--set", "data.root={tmp}/cifar", "--set",
                    "train.progress=false", "--set", "train.tensorboard=false"], 2, cifar_with(payload),
             watch="{new}", needs="cifar"))


# ---------------------------------------------------------------------------- running a row

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("failure_paths") / "run"
    assert main(["train", "digits", "--out", str(out)] + tiny_sets()) == 0
    return out


TIME_LIMIT = 30  # seconds; every row fails (or works) fast, a row that runs on is a bug


class TooSlow(BaseException):
    pass


def _too_slow(signum, frame):
    raise TooSlow(f"still running after {TIME_LIMIT}s")


def run_case(case: Case, tiny_run: Path, tmp: Path, monkeypatch, capsys) -> list[str]:
    """The row's problems (empty when it keeps the contract)."""
    run = tmp / "run"
    shutil.copytree(tiny_run, run)
    (run / ".lock").unlink(missing_ok=True)
    ctx = Ctx(run, tmp, monkeypatch)
    fill = lambda s: s.replace("{run}", str(run)).replace("{tmp}", str(tmp)).replace("{new}", str(tmp / "new"))
    problems = []
    try:
        if case.setup:
            case.setup(ctx)
        watched = Path(fill(case.watch))
        before = snapshot(watched)
        capsys.readouterr()
        old = signal.signal(signal.SIGALRM, _too_slow)
        signal.alarm(TIME_LIMIT)
        try:
            code = main([fill(a) for a in case.argv])
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # noqa: BLE001 - an escaped exception is a traceback for the user
            code = f"uncaught {type(exc).__name__}: {str(exc)[:120]}"
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        monkeypatch.undo()
        err = capsys.readouterr().err.strip().splitlines()
        if code != case.code:
            problems.append(f"exit {code}, want {case.code}")
        if len(err) > 1 or (case.code != 0 and len(err) != 1) or any("Traceback" in e for e in err):
            problems.append(f"{len(err)} stderr lines: {err[:3]}")
        elif case.needs and not any(case.needs in e for e in err):
            problems.append(f"stderr does not name {case.needs!r}: {err}")
        after = snapshot(watched)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)
                         and not k.endswith(".lock"))
        if case.code != 0 and changed:
            problems.append(f"changed {watched.name}: {changed[:4]}")
        if case.code == 0 and watched == run:
            ckpts = [k for k in changed if k.startswith("checkpoints/step_") and k in before and k not in after]
            if ckpts:
                problems.append(f"lost checkpoints {ckpts[:3]}")
    finally:
        for proc in ctx.procs:
            proc.kill()
            proc.wait()
    return problems


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_failure_path(case, tiny_run, tmp_path, monkeypatch, capsys):
    problems = run_case(case, tiny_run, tmp_path, monkeypatch, capsys)
    assert not problems, "; ".join(problems)


def test_the_table_covers_every_family_of_the_issue():
    ids = " ".join(c.id for c in CASES)
    for family in ("set-train.lr=nan", "run.device=cuda", "toml-not-utf8", "sample --num 0", "npz-0d", "stray",
                   "torn", "state-", "config-", "nan-ema", "diverged-classification", "second-writer",
                   "fresh-into-a-log", "resume-changes", "disk-full", "permission", "pickle-bytearray",
                   "pickle-complex", "pickle-codec", "robustness --eps nan", "classify --num -1"):
        assert family in ids, family
    assert len(CASES) >= 100
