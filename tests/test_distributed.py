"""Issue 15: data-parallel training on torch.distributed (gloo, 2 processes with 1 thread each).

- equivalence: one step with 2 ranks at batch 64 each equals 1 process at batch 128 (fixed data
  and negatives, with the classification term and the gradient penalty on, so DDP meets several
  forwards and a double backward in one step);
- exact resume: a 2-process run killed with SIGKILL (launcher and workers) and resumed ends with
  the same weights, optimiser, buffers and random state as an uninterrupted one;
- bad input, one line and exit 2 each: --nproc above the cores, a global batch that does not
  divide, an unreachable rendezvous, a resume with another world size without --reshard.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import tiny_config
from igebm.cli import main
from igebm.config import load_config
from igebm.errors import UserError
from igebm.training import checkpoint as ckpt
from igebm.training import distributed
from igebm.training.threads import usable_cores

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
TINY = ["model.channels=8", "sampler.steps=3", "buffer.capacity=64", "train.batch_size=16",
        "train.progress=false", "train.tensorboard=false", "train.sample_every=1000", "train.max_minutes=0"]


def sets(*extra: str) -> list[str]:
    return [a for s in TINY + list(extra) for a in ("--set", s)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- equivalence
EQUIV = {"train": {"gp_alpha": 0.1, "ce_alpha": 0.5, "ce_batch": 128}}


def fixed_batch(trainer, n: int = 128):
    g = torch.Generator().manual_seed(123)
    idx = torch.randint(0, len(trainer.x_all), (n,), generator=g)
    x_neg = torch.rand(n, *trainer.data.shape, generator=g)
    return trainer.x_all[idx], trainer.c_all[idx], x_neg, torch.randint(0, 10, (n,), generator=g)


def _after_one_step(trainer, x_pos, c_pos, x_neg, c_neg) -> dict[str, torch.Tensor]:
    trainer.update(x_pos, c_pos, x_neg, c_neg)
    out = {f"param.{n}": p.detach().clone() for n, p in trainer.model.named_parameters()}
    out.update({f"grad.{n}": p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None})
    return out


def _equivalence_worker(rank: int, port: int, out: str, train: dict) -> None:
    import torch.distributed as dist

    from igebm.training import Trainer
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        cfg = tiny_config(train={**train, "batch_size": 64})
        trainer = Trainer(cfg, Path(out) / "run", rank=rank, world_size=2)
        half = slice(64 * rank, 64 * (rank + 1))
        state = _after_one_step(trainer, *(t[half] for t in fixed_batch(trainer)))
        save_file(state, str(Path(out) / f"rank{rank}.safetensors"))
    finally:
        dist.destroy_process_group()


def test_two_ranks_at_batch_64_step_like_one_process_at_batch_128(tmp_path):
    import torch.multiprocessing as mp

    from igebm.training import Trainer
    mp.start_processes(_equivalence_worker, args=(free_port(), str(tmp_path), EQUIV["train"]), nprocs=2,
                       start_method="spawn")
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]
    single = Trainer(tiny_config(train={**EQUIV["train"], "batch_size": 128}), tmp_path / "single")
    one = _after_one_step(single, *fixed_batch(single))
    assert ranks[0].keys() == one.keys() and any(k.startswith("grad.") for k in one)
    for k in one:  # DDP leaves every rank with the same weights ...
        assert torch.equal(ranks[0][k], ranks[1][k]), k
    # ... and they are the single process's, within float tolerance: the averaged gradients to 1e-3 of their
    # scale (sums in another order), the weights to 5% of one Adam step (lr: its first step is about sign(g))
    lr = single.cfg.train.lr
    for k in one:
        diff = float((ranks[0][k] - one[k]).abs().max())
        if k.startswith("grad."):
            assert diff <= 1e-3 * float(one[k].abs().max()) + 1e-9, (k, diff)
        else:
            assert diff <= 0.05 * lr, (k, diff)
    start = single.ema.state_dict()  # EMA after one step with decay 0.999 is still close to the start
    moved = max(float((one[k] - start[k[6:]]).abs().max()) for k in one if k.startswith("param."))
    assert moved > 0.5 * lr  # the step did change the weights: the comparison is not vacuous


# ---------------------------------------------------------------------------- exact resume
def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the launcher and its workers (they run in sessions of their own), workers first."""
    for pid in _descendants(proc.pid)[::-1] + [proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _cli(out: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "igebm", "train", "digits", "--out", str(out), "--nproc", "2",
            *sets(f"train.max_steps={steps}", "train.checkpoint_every=4", "train.log_every=2"), *extra]


def _state(run: Path) -> dict[str, torch.Tensor]:
    last = ckpt.latest_checkpoint(run / "checkpoints")
    out = {}
    for part in ("model", "ema", "optimizer", "rank0", "rank1"):
        out.update({f"{part}.{k}": v for k, v in load_file(str(last / f"{part}.safetensors")).items()})
    return out


def _log(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time", "it_per_s", "rank_it_per_s")} for r in rows]


@pytest.mark.slow
def test_sigkill_of_a_two_process_run_resumes_bit_exact(tmp_path, capsys):
    steps = 40
    subprocess.run(_cli(tmp_path / "full", steps), check=True, env=ENV, capture_output=True, timeout=300)
    killed = tmp_path / "killed"
    rng = random.Random(int(os.environ.get("IGEBM_KILL_SEED", time.time_ns() % 10**6)))
    proc = subprocess.Popen(_cli(killed, steps), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # kill at a random moment after step 8 was saved
        last = ckpt.latest_checkpoint(killed / "checkpoints")
        if last is not None and ckpt.step_of(last) >= 8:
            time.sleep(rng.uniform(0.0, 0.4))
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before the kill: " + proc.stderr.read().decode()[-300:]
    _kill_tree(proc)
    cut = ckpt.step_of(ckpt.latest_checkpoint(killed / "checkpoints"))
    assert cut < steps
    r = subprocess.run(_cli(killed, steps, "--resume"), env=ENV, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert "throughput per rank: rank 0" in r.stdout.decode()
    a, b = _state(tmp_path / "full"), _state(killed)
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"killed at step {cut}: {len(differ)} tensors differ, e.g. {differ[:3]}"
    assert not torch.equal(a["rank0.buffer.x"], a["rank1.buffer.x"])  # each rank owns its buffer
    assert _log(tmp_path / "full") == _log(killed)

    # a resume with another world size is refused in one line, and changes nothing ...
    before = sorted(p.name for p in (killed / "checkpoints").iterdir())
    one_proc = ["train", "digits", "--out", str(killed), "--resume", *sets(f"train.max_steps={steps + 2}")]
    capsys.readouterr()
    assert main(one_proc) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "written by 2 process(es), this run has 1" in err[0] and "--reshard" in err[0], err
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == before
    # ... unless --reshard allows it: the buffers are re-dealt, said in one line, and training goes on
    assert main(one_proc + ["--reshard"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "re-dealt its 128 buffered chains over 1 rank(s)" in err[0], err
    last = ckpt.latest_checkpoint(killed / "checkpoints")
    assert ckpt.step_of(last) == steps + 2 and not (last / "rank1.safetensors").exists()


# ---------------------------------------------------------------------------- bad input
def _one_line_exit_2(capsys, argv, needle: str) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0], err


def test_nproc_above_the_usable_cores_is_one_line(tmp_path, capsys):
    n = usable_cores() + 1
    _one_line_exit_2(capsys, ["train", "digits", "--out", str(tmp_path / "r"), "--nproc", str(n), *sets()],
                     f"--nproc {n} is more than the {n - 1} usable CPU core(s)")
    assert not (tmp_path / "r").exists()


def test_a_global_batch_that_does_not_divide_is_one_line(tmp_path, capsys):
    _one_line_exit_2(capsys, ["train", "digits", "--out", str(tmp_path / "r"), "--nproc", "2",
                              *sets("dist.batch=global", "train.batch_size=15")],
                     "train.batch_size=15 is the global batch")
    assert not (tmp_path / "r").exists()


def test_resume_with_another_world_size_is_refused_before_launching(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "digits", "--out", str(run), *sets("train.max_steps=2", "train.checkpoint_every=1")]) == 0
    _one_line_exit_2(capsys, ["train", "digits", "--out", str(run), "--resume", "--nproc", "2",
                              *sets("train.max_steps=4")], "written by 1 process(es), this run has 2")
    assert ckpt.step_of(ckpt.latest_checkpoint(run / "checkpoints")) == 2


def test_an_unreachable_rendezvous_is_one_line(tmp_path):
    env = {**ENV, "RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(free_port())}  # nobody listens there
    r = subprocess.run([sys.executable, "-m", "igebm", "train", "digits", "--out", str(tmp_path / "r"),
                        *sets("dist.timeout=1")], env=env, capture_output=True, timeout=120)
    err = r.stderr.decode().strip().splitlines()
    assert r.returncode == 2 and len(err) == 1, err[-5:]
    assert "cannot reach rendezvous at 127.0.0.1:" in err[0] and "rank 1 of 2" in err[0]
    assert not (tmp_path / "r").exists()


def test_nproc_under_torchrun_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    _one_line_exit_2(capsys, ["train", "digits", "--out", str(tmp_path / "r"), "--nproc", "2", *sets()],
                     "under torchrun leave it out")


# ---------------------------------------------------------------------------- the pieces
def test_shards_are_disjoint_and_cover_the_data():
    shards = [distributed.shard_indices(1001, r, 3, seed=0) for r in range(3)]
    allidx = torch.cat(shards)
    assert len(allidx) == 1001 and len(set(allidx.tolist())) == 1001
    assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1
    assert distributed.shard_indices(1001, 0, 1, seed=0) is None  # one process: the whole set, as before
    assert torch.equal(shards[1], distributed.shard_indices(1001, 1, 3, seed=0))  # a resume deals the same


def test_redeal_pools_the_ranks_and_keeps_the_capacity():
    old = [{"x": torch.full((4, 2), float(r)), "y": torch.full((4,), r)} for r in range(2)]
    old[0]["x"][:, 1] = torch.arange(4.0)  # chain ids of rank 0
    new = [distributed.redeal(old, r, 4) for r in range(4)]
    assert all(b["x"].shape == (4, 2) and b["y"].shape == (4,) for b in new)
    assert all(torch.equal(b["x"][:, 0], b["y"].float()) for b in new)  # a chain keeps its condition
    one = distributed.redeal(old, 0, 1)  # shrinking: a mix of both old ranks
    assert torch.equal(one["y"], torch.tensor([0, 1, 0, 1]))
    grown = [distributed.redeal(old[:1], r, 2)["x"][:, 1] for r in range(2)]  # growing: every chain is used
    assert set(torch.cat(grown).tolist()) == {0.0, 1.0, 2.0, 3.0}


def test_batch_and_lr_scaling():
    cfg = load_config(None, ["train.batch_size=128", "train.lr=1e-3"])
    assert distributed.scaled_batch_and_lr(cfg, 4) == (128, 1e-3)
    cfg.dist.lr_scaling = "linear"
    assert distributed.scaled_batch_and_lr(cfg, 4) == (128, pytest.approx(4e-3))
    cfg.dist.lr_scaling = "sqrt"
    assert distributed.scaled_batch_and_lr(cfg, 4) == (128, pytest.approx(2e-3))
    cfg.dist.batch = "global"  # the effective batch stays 128: the lr does not move
    assert distributed.scaled_batch_and_lr(cfg, 4) == (32, pytest.approx(1e-3))
    with pytest.raises(UserError, match="does not divide over 3"):
        distributed.scaled_batch_and_lr(cfg, 3)
    with pytest.raises(UserError, match="dist.lr_scaling"):
        load_config(None, ["dist.lr_scaling=cubic"])
    assert distributed.resolve_backend("auto", torch.device("cpu")) == "gloo"
    assert distributed.resolve_backend("auto", torch.device("cuda")) == "nccl"
