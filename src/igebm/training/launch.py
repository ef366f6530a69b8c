"""`igebm train CONFIG --nproc N`: check the request, then start N workers through torch's elastic launcher.

The workers are what `torchrun --standalone --nproc_per_node N -m igebm train CONFIG ...` would start:
each reads RANK, WORLD_SIZE and MASTER_ADDR/PORT from its environment. Mistakes that need no
worker (too many processes for the cores, a global batch that does not divide, a resume with another
world size) are refused here, in one line, before anything starts.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from pathlib import Path

import torch

from igebm.errors import UserError
from igebm.training import checkpoint as ckpt
from igebm.training import distributed


class WorkersFailed(UserError):
    """A worker failed and printed its own line; the launcher exits with its code, quietly."""

    already_reported = True


def preflight(cfg, out: Path, resume: bool, nproc: int, reshard: bool) -> None:
    """Refuse, before launching, what every worker would refuse."""
    device = torch.device(cfg.run.device)
    if device.type == "cpu":
        from igebm.training.threads import usable_cores
        cores = usable_cores()
        if nproc > cores:
            raise UserError(f"--nproc {nproc} is more than the {cores} usable CPU core(s) of this machine: each "
                            f"process needs a core of its own; use --nproc {cores} or fewer")
    elif device.type == "cuda" and nproc > torch.cuda.device_count():
        raise UserError(f"--nproc {nproc} is more than the {torch.cuda.device_count()} visible GPU(s); "
                        "use one process per GPU")
    distributed.scaled_batch_and_lr(cfg, nproc)  # a global batch must divide over the ranks
    if resume:
        last = ckpt.latest_checkpoint(out / "checkpoints")
        if last is not None:
            _, state = ckpt.load_checkpoint(last, ())
            distributed.check_world_size(int(state.get("world_size", 1)), nproc, reshard, f"'{last}'")


def run_workers(nproc: int, argv: list[str]) -> None:
    """Start `python -m igebm <argv>` on `nproc` local ranks (gloo/NCCL rendezvous on a free local port)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # the workers speak for themselves
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"igebm-{uuid.uuid4().hex[:8]}",
                          rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", max_restarts=0, monitor_interval=0.1)
    try:
        elastic_launch(config, sys.executable)("-m", "igebm", *argv)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        code = failure.exitcode
        if code in (2, 3):  # a UserError / TrainingFault: the worker printed its one line
            err = WorkersFailed(f"rank {rank} failed")
            err.exit_code = code
            raise err from None
        raise UserError(f"training process rank {rank} (pid {failure.pid}) ended with exit code {code}"
                        + (" (killed by a signal)" if code < 0 else "") + "; its output is above") from None


def in_worker() -> bool:
    """True in a process torchrun (or --nproc) started."""
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1
