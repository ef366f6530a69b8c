"""Issue 9 fault tests: real kills, a full disk, two writers, a torn log line, NaN weights.

The SIGKILL test runs the real digits recipe at its default settings (no thread pinning: the
recipe's `run.deterministic` fixes the thread count), changing only how long it trains and how
often it checkpoints, and kills `igebm train` at random moments, several times.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import inject_nan, tiny_config
from igebm.cli import main
from igebm.errors import TrainingFault, UserError
from igebm.training import Trainer, TrainingDiverged, load_run, read_metrics
from igebm.training import checkpoint as ckpt

ENV = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}  # default threads


def digits_args(out: Path, steps: int, every: int) -> list[str]:
    sets = [f"train.max_steps={steps}", f"train.checkpoint_every={every}", "train.progress=false",
            "train.tensorboard=false"]
    return [sys.executable, "-m", "igebm", "train", "digits", "--out", str(out)] + [a for s in sets for a in ("--set", s)]


def final_state(run: Path) -> dict[str, torch.Tensor]:
    last = ckpt.latest_checkpoint(run / "checkpoints")
    out = {}
    for part in ("model", "ema", "optimizer", "rank0"):
        out.update({f"{part}.{k}": v for k, v in load_file(str(last / f"{part}.safetensors")).items()})
    return out


def restart(run: Path, steps: int, every: int) -> list[str]:
    """The command that carries a killed run on: --resume from its checkpoint, or, killed before its first
    one, a fresh start in an emptied folder (what the CLI asks of a user in that case)."""
    if ckpt.latest_checkpoint(run / "checkpoints") is not None:
        return digits_args(run, steps, every) + ["--resume"]
    shutil.rmtree(run, ignore_errors=True)
    return digits_args(run, steps, every)


@pytest.mark.slow
def test_sigkill_at_random_moments_on_the_digits_recipe_resumes_bit_exact(tmp_path):
    steps, every = 10, 2
    t0 = time.time()
    ref = subprocess.Popen(digits_args(tmp_path / "full", steps, every), env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    startup = None  # until the run directory's config appears: imports and data, which can outlast training
    while ref.poll() is None:
        if startup is None and (tmp_path / "full" / "config.json").exists():
            startup = time.time() - t0
        time.sleep(0.01)
    assert ref.returncode == 0
    duration = time.time() - t0
    startup = duration if startup is None else startup
    training = max(duration - startup, 0.05)
    rng = random.Random(int(os.environ.get("IGEBM_KILL_SEED", time.time_ns() % 10**6)))
    kills = 0
    killed = tmp_path / "killed"
    for attempt in range(6):
        proc = subprocess.Popen(restart(killed, steps, every), env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=startup + rng.uniform(0.1, 0.8) * training)  # inside the training part of the run
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, proc.stderr.read().decode()[-500:]
        break
    last = ckpt.latest_checkpoint(killed / "checkpoints")
    if last is None or ckpt.step_of(last) < steps:
        r = subprocess.run(restart(killed, steps, every), env=ENV, capture_output=True)
        assert r.returncode == 0, r.stderr.decode()[-500:]
    assert kills >= 1, "no kill landed before the run finished"
    a, b = final_state(tmp_path / "full"), final_state(killed)
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"{len(differ)} tensors differ after {kills} kills, e.g. {differ[:3]}"
    strip = lambda run: [{k: v for k, v in r.items() if k not in ("time", "it_per_s")} for r in read_metrics(run)]
    assert strip(tmp_path / "full") == strip(killed)


TINY = ["model.channels=8", "sampler.steps=3", "buffer.capacity=64", "train.batch_size=16",
        "train.checkpoint_every=2", "train.progress=false", "train.tensorboard=false"]


def tiny_cli(out: Path, steps: int, *extra: str) -> list[str]:
    sets = TINY + [f"train.max_steps={steps}"] + list(extra)
    return ["train", "digits", "--out", str(out)] + [a for s in sets for a in ("--set", s)]


@pytest.fixture
def small_fs(tmp_path):
    """A 1 MB file system where the platform allows mounting one, else None."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(tmp_path, small_fs, monkeypatch, capsys):
    if small_fs is not None:  # a real full disk: the run fills it
        run = small_fs / "run"
        code = main(tiny_cli(run, 400, "train.checkpoint_every=1", "train.keep_checkpoints=400",
                             "train.sample_every=1000"))
    else:  # injected: the third checkpoint's write fails with ENOSPC
        import safetensors.torch as st
        real = st.save_file
        run = tmp_path / "run"

        def save_file_full(tensors, filename, *a, **k):
            if "step_0000006" in str(filename):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))
            return real(tensors, filename, *a, **k)
        monkeypatch.setattr(st, "save_file", save_file_full)
        code = main(tiny_cli(run, 8))
        monkeypatch.undo()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "No space left" in err[0], err
    last = ckpt.latest_checkpoint(run / "checkpoints")
    assert last is not None
    parts, state = ckpt.load_checkpoint(last, ("model", "ema", "optimizer", "rank0"))
    assert not any(ckpt.non_finite(t) for t in parts.values())
    assert not list((run / "checkpoints").glob(".tmp_*")), "a half-written checkpoint was left behind"


def test_two_concurrent_writers_one_is_refused_naming_the_holder(tmp_path, capsys):
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "igebm"] + tiny_cli(run, 100000, "train.checkpoint_every=5"),
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and ckpt.latest_checkpoint(run / "checkpoints") is None:
            time.sleep(0.05)
        assert first.poll() is None, first.stderr.read().decode()[-300:]
        config_before = (run / "config.json").read_text()
        # a second process (here: this one) resumes, or starts afresh, in the same folder
        for extra in (["--resume"], []):
            capsys.readouterr()
            assert main(tiny_cli(run, 100000, "run.seed=7") + extra) == 2
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and f"pid {first.pid}" in lines[0], lines
        assert (run / "config.json").read_text() == config_before  # the second changed nothing
    finally:
        first.kill()
        first.wait()
    # the holder died by SIGKILL: the kernel dropped its lock, and the folder can be taken again
    from igebm.training.lock import RunLock
    lock = RunLock(run).acquire()
    assert (run / ".lock").read_text().strip() == str(os.getpid())
    lock.release()


def test_each_process_stages_checkpoints_under_its_own_name(tmp_path, monkeypatch):
    seen = []
    real_mkdir = Path.mkdir
    monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: (seen.append(self.name), real_mkdir(self, *a, **k))[1])
    ckpt.save_checkpoint(tmp_path, 1, {"model": {"w": torch.ones(1)}}, {"step": 1})
    ckpt.save_checkpoint(tmp_path, 2, {"model": {"w": torch.ones(1)}}, {"step": 2})
    tmps = sorted({n for n in seen if n.startswith(".tmp_")})
    assert len(tmps) == 2 and all(str(os.getpid()) in n for n in tmps) and len(set(tmps)) == 2


def test_a_torn_log_line_is_dropped_with_a_warning_and_resume_goes_on(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny_cli(run, 4)) == 0
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"step": 5, "lo')
    with pytest.warns(UserWarning, match="torn"):
        rows = read_metrics(run)
    assert rows and rows[-1]["step"] == 4
    capsys.readouterr()
    assert main(tiny_cli(run, 6) + ["--resume"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 1 and all("Traceback" not in e for e in err)
    for line in (run / "metrics.jsonl").read_text().splitlines():
        json.loads(line)  # every line whole again
    assert read_metrics(run)[-1]["step"] == 6


def _nan_into(folder: Path, part: str) -> None:
    inject_nan(folder / f"{part}.safetensors")


def test_non_finite_state_is_never_saved(tmp_path):
    trainer = Trainer(tiny_config(train={"max_steps": 2}), tmp_path / "run")
    trainer.fit()
    for poison in ("model", "buffer"):
        t = Trainer(tiny_config(train={"max_steps": 4}), tmp_path / "run", resume=True)
        if poison == "model":
            with torch.no_grad():
                next(t.model.parameters()).view(-1)[0] = float("nan")
        else:
            t.buffer.x.view(-1)[0] = float("nan")
        t.step += 1
        with pytest.raises(TrainingFault, match="non-finite"):
            t.save()
        t.lock.release()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "run" / "checkpoints")] == ["step_0000002"]


def test_nan_weights_in_a_checkpoint_are_refused_and_rollback_skips_them(tmp_path, capsys):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"max_steps": 6, "checkpoint_every": 3}), run).fit()
    newest = ckpt.latest_checkpoint(run / "checkpoints")
    _nan_into(newest, "ema")
    _nan_into(newest, "model")
    with pytest.raises(UserError, match="non-finite"):
        load_run(run)
    capsys.readouterr()
    assert main(["sample", str(run), "--num", "2", "--steps", "1", "--out", str(tmp_path / "s.npz")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not (tmp_path / "s.npz").exists()
    with pytest.raises(TrainingFault, match="non-finite"):
        Trainer(tiny_config(train={"max_steps": 9}), run, resume=True)
    # rollback goes to the newest checkpoint whose tensors are finite (step 3), never the poisoned one
    cfg = tiny_config(train={"max_steps": 9, "checkpoint_every": 3, "on_divergence": "rollback", "max_rollbacks": 1})
    shutil.rmtree(newest)
    t = Trainer(cfg, run, resume=True)
    shutil.copytree(run / "checkpoints" / "step_0000003", newest)
    _nan_into(newest, "model")
    t._rollback(TrainingDiverged("test"))
    assert t.step == 3 and t.rollbacks == 1


def test_the_divergence_check_covers_the_classification_term(tmp_path):
    cfg = tiny_config(train={"max_steps": 2, "ce_alpha": 1e38, "ce_temperature": 1e-30,
                             "divergence_energy": 1e30})
    with pytest.raises(TrainingDiverged, match="step 1"):
        Trainer(cfg, tmp_path / "run").fit()
    assert ckpt.latest_checkpoint(tmp_path / "run" / "checkpoints") is None


def test_resume_set_lr_reaches_the_optimiser_and_other_keys_are_refused(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"max_steps": 2}), run).fit()
    t = Trainer(tiny_config(train={"max_steps": 4, "lr": 1e-5, "beta1": 0.5}), run, resume=True)
    assert all(g["lr"] == 1e-5 and g["betas"] == (0.5, 0.999) for g in t.optimizer.param_groups)
    t.fit()
    t2 = Trainer(tiny_config(train={"max_steps": 6, "lr": 1e-5, "beta1": 0.5}), run, resume=True)
    assert all(g["lr"] == 1e-5 for g in t2.optimizer.param_groups)
    t2.lock.release()
    before = (run / "config.json").read_text()
    with pytest.raises(UserError, match="train.batch_size"):
        Trainer(tiny_config(train={"max_steps": 6, "batch_size": 8}), run, resume=True)
    assert (run / "config.json").read_text() == before


def test_resume_with_another_thread_count_warns_that_it_is_not_bit_exact(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"max_steps": 2}), run).fit()
    state = json.loads((ckpt.latest_checkpoint(run / "checkpoints") / "state.json").read_text())
    assert state["threads"] == 1 and state["deterministic"] is True
    cfg = tiny_config(train={"max_steps": 4})
    cfg.run.threads = 2
    with pytest.warns(UserWarning, match="not be bit-exact"):
        Trainer(cfg, run, resume=True).lock.release()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trainer(tiny_config(train={"max_steps": 4}), run, resume=True).lock.release()

