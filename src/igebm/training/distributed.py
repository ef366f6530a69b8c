"""Data parallelism on torch.distributed: the `[dist]` section, the process group, and its helpers.

A worker is distributed when torchrun (or `igebm train --nproc N`, which launches through torch's
elastic launcher) sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. The backend is
gloo on CPU and NCCL on CUDA unless `dist.backend` says otherwise. What `train.batch_size` counts
(per rank, or the global batch) and how the learning rate follows the effective batch are config
keys, so a run's trajectory is written down in its config.json.

Each rank draws its data from its own shard (a seeded permutation of the training set, dealt like
torch's DistributedSampler) with its own generator, so the draws stay in each rank's checkpointed
random state and a resume is exact. A single process uses the whole set, exactly as before.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

import torch

from igebm.errors import UserError

BACKENDS = ("auto", "gloo", "nccl")
BATCH_MODES = ("per_rank", "global")
LR_SCALINGS = ("none", "linear", "sqrt")


@dataclass
class DistConfig:
    backend: str = "auto"  # auto = nccl on CUDA, gloo on CPU
    batch: str = "per_rank"  # per_rank: train.batch_size per rank (the paper: 128 per GPU); global: split over ranks
    lr_scaling: str = "none"  # none | linear | sqrt: lr x k or sqrt(k), k = effective batch / train.batch_size
    timeout: float = 300.0  # seconds to wait for the rendezvous and for any collective

    def validate(self) -> None:
        for key, choices in (("backend", BACKENDS), ("batch", BATCH_MODES), ("lr_scaling", LR_SCALINGS)):
            if getattr(self, key) not in choices:
                raise UserError(f"config key 'dist.{key}' is {getattr(self, key)!r}; choose one of {list(choices)}")
        if not self.timeout > 0:
            raise UserError(f"config key 'dist.timeout' must be positive (seconds), got {self.timeout}")


# ----------------------------------------------------------------------------- the world
@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world() -> World:
    """The rank and world size torchrun put in the environment (a single process when absent)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise UserError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them)") from None
    if size < 1 or not 0 <= rank < size:
        raise UserError(f"RANK={rank} is outside WORLD_SIZE={size}")
    return World(rank, size, local)


def is_initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def resolve_backend(choice: str, device: torch.device) -> str:
    if choice != "auto":
        return choice
    return "nccl" if device.type == "cuda" else "gloo"


def init(cfg, world: World) -> torch.device:
    """Join the process group (when world.size > 1); return this rank's device."""
    import torch.distributed as dist

    device = torch.device(cfg.run.device)
    if world.size == 1:
        return device
    if device.type == "cuda" and device.index is None:  # one GPU per local rank
        torch.cuda.set_device(world.local_rank)
        device = torch.device("cuda", world.local_rank)
    if is_initialized():
        return device
    backend = resolve_backend(cfg.dist.backend, device)
    if backend == "nccl" and device.type != "cuda":
        raise UserError("config key 'dist.backend' is 'nccl', which needs run.device=cuda; use gloo on CPU")
    where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    try:
        with _quiet_stderr():  # c10d logs every failed connect attempt, with C++ frames, to fd 2
            dist.init_process_group(backend, timeout=timedelta(seconds=cfg.dist.timeout),
                                    rank=world.rank, world_size=world.size)
    except Exception as exc:  # noqa: BLE001 - DistStoreError, RuntimeError, TimeoutError, ValueError...
        reason = " ".join(str(exc).split())[:160].rstrip(".") or type(exc).__name__
        raise UserError(f"cannot reach rendezvous at {where} within {cfg.dist.timeout:g}s as rank {world.rank} of "
                        f"{world.size} ({reason}): check MASTER_ADDR/MASTER_PORT (torchrun --rdzv-endpoint), "
                        "that every node is up and that the port is open") from None
    return device


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 to /dev/null for the block (the C++ logs bypass Python's sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def synchronize() -> None:
    """A barrier when in a process group: every rank at the same point before any exits.

    Without it rank 0, which hosts the rendezvous store, could leave while another rank's gloo
    threads still talk to the store, and that rank dies with std::terminate (exit -6).
    """
    import torch.distributed as dist

    if is_initialized():
        dist.barrier()


def teardown() -> None:
    import torch.distributed as dist

    if is_initialized():
        dist.destroy_process_group()


# ----------------------------------------------------------------------------- batch and lr
def scaled_batch_and_lr(cfg, world_size: int) -> tuple[int, float]:
    """(batch per rank, learning rate) for `world_size` ranks, as `dist.batch` and `dist.lr_scaling` say."""
    b = cfg.train.batch_size
    if cfg.dist.batch == "global":
        if b % world_size:
            raise UserError(f"train.batch_size={b} is the global batch (dist.batch='global') and does not divide "
                            f"over {world_size} processes; choose a multiple of {world_size}, or "
                            "dist.batch='per_rank'")
        per_rank, k = b // world_size, 1.0
    else:
        per_rank, k = b, float(world_size)
    factor = {"none": 1.0, "linear": k, "sqrt": math.sqrt(k)}[cfg.dist.lr_scaling]
    return per_rank, cfg.train.lr * factor


def check_world_size(saved: int, now: int, reshard: bool, where: str) -> bool:
    """True when the buffers must be re-dealt; a different world size without --reshard is refused."""
    if saved == now:
        return False
    if not reshard:
        raise UserError(f"checkpoint {where} was written by {saved} process(es), this run has {now}: resume with "
                        f"--nproc {saved} (torchrun --nproc_per_node {saved}), or pass --reshard to re-deal the "
                        "replay buffers over the new ranks (not bit-exact)")
    return True


def rank_threads(threads: int, world_size: int) -> int:
    """run.threads = 0 with several ranks: at most this rank's share of the machine's usable cores.

    The automatic count looks at the cores that are free when a process starts; ranks start
    together, each would see every core free, and N ranks x all cores oversubscribe (10x slower
    measured on 2 cores: 2 ranks x 2 threads).
    """
    from igebm.training.threads import usable_cores

    local = int(os.environ.get("LOCAL_WORLD_SIZE", "0") or 0) or world_size
    return max(1, min(threads, usable_cores() // local))


# ----------------------------------------------------------------------------- data and randomness
def rank_generator(seed: int, rank: int) -> torch.Generator:
    """Each rank's one CPU generator (data, buffer, chain noise), saved in its checkpoint part."""
    return torch.Generator().manual_seed(seed * 1000 + rank)


def shard_indices(n: int, rank: int, world_size: int, seed: int) -> torch.Tensor | None:
    """This rank's share of `n` examples (a seeded permutation dealt round-robin); None for one process."""
    if world_size == 1:
        return None
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7717))
    return perm[rank::world_size].clone()


def redeal(buffers: list[dict[str, torch.Tensor]], rank: int, world_size: int) -> dict[str, torch.Tensor]:
    """Rank `rank`'s buffer when the old ranks' buffers are pooled and dealt over `world_size` ranks.

    The pool interleaves the old ranks (chain j of old rank q sits at j * old_world + q), and new
    rank r takes pool entries r, r + world_size, ... (cycling when the pool is smaller), so every
    new rank keeps the per-rank capacity and a mix of every old rank's chains.
    """
    pool = {k: torch.stack([b[k] for b in buffers], dim=1).flatten(0, 1) for k in buffers[0]}
    capacity = len(buffers[0]["x"])
    idx = (rank + world_size * torch.arange(capacity)) % len(pool["x"])
    return {k: v[idx].clone() for k, v in pool.items()}


# ----------------------------------------------------------------------------- collectives
def wrap_ddp(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around `module`. find_unused_parameters: a FiLM site uses either its gain or
    its bias embedding, and a class-conditional model leaves the other without a gradient."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def any_true(flag: bool) -> bool:
    """True on every rank when it is true on one (divergence is decided together)."""
    import torch.distributed as dist

    if not is_initialized():
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def mean_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """The ranks' mean of each float statistic (for rank 0's log line)."""
    import torch.distributed as dist

    if not is_initialized():
        return stats
    keys = [k for k, v in stats.items() if isinstance(v, float)]
    t = torch.tensor([stats[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return {**stats, **{k: float(v) for k, v in zip(keys, t.tolist())}}


def gather_floats(value: float) -> list[float]:
    import torch.distributed as dist

    if not is_initialized():
        return [value]
    out = [torch.zeros(1, dtype=torch.float64) for _ in range(dist.get_world_size())]
    dist.all_gather(out, torch.tensor([value], dtype=torch.float64))
    return [float(t) for t in out]


class PeerFailed(UserError):
    """Another rank failed with a UserError; rank 0 prints the line, this rank exits quietly."""

    already_reported = True


def collective(fn: Callable[[], Any]) -> Any:
    """Run fn on every rank; when it raises a UserError on any, raise it on all.

    Rank 0 re-raises the first failing rank's error (so one line is printed); the others raise
    PeerFailed, which the CLI turns into a quiet exit with the same code.
    """
    import torch.distributed as dist

    if not is_initialized():
        return fn()
    result, err = None, None
    try:
        result = fn()
    except UserError as exc:
        err = exc
    msgs: list[Any] = [None] * dist.get_world_size()
    mine = None if err is None else (str(err), err.exit_code)
    dist.all_gather_object(msgs, mine)
    failed = [(r, m) for r, m in enumerate(msgs) if m is not None]
    if not failed:
        return result
    first_rank, (text, code) = failed[0]
    rank = dist.get_rank()
    if rank == 0:
        if err is not None and first_rank == 0:
            raise err
        out = UserError(f"rank {first_rank}: {text}")
        out.exit_code = code
        raise out
    quiet = PeerFailed(text)
    quiet.exit_code = code
    raise quiet
