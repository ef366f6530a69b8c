"""Contrastive-divergence training with a replay buffer, EMA, checkpoints and exact resume.

One training step (Du & Mordatch, Algorithm 1):
  1. draw a data batch (dequantised) and buffer chains (5% fresh noise);
  2. run K Langevin steps on the current energy (input gradients only);
  3. loss = E(data) - E(samples) + alpha * (E(data)^2 + E(samples)^2);
  4. Adam(beta1 = 0) with IGEBM's per-element gradient clipping; EMA update;
  5. write the chains back to their buffer slots.

Every random draw, the chains' noise included, comes from one CPU
`torch.Generator` per rank, saved in each checkpoint, so a resumed run continues
exactly where the killed one stopped, on any device. Rank-aware: rank 0 writes
logs, weights and the checkpoint folder; every rank saves and reloads its own
buffer and random state.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from igebm.data import ArrayDataset, dequantize, load_dataset, noise_fn_for
from igebm.errors import TrainingFault, UserError
from igebm.models import build_model, condition_spec
from igebm.sampling import ReplayBuffer, build_sampler
from igebm.sampling.buffer import relabel
from igebm.sampling.options import autocast, to_layout
from igebm.training import checkpoint as ckpt
from igebm.training import distributed
from igebm.training.losses import cd_loss, classification_loss, clip_grads_igebm, gradient_penalty
from igebm.training.lock import LOCK_NAME, RunLock
from igebm.training.metrics_log import append_record, truncate_after
from igebm.training.schedule import chain_steps, check_schedule
from igebm.training.resume import (apply_determinism, apply_optimizer_hparams, check_resume_config, run_threads,
                                   warn_if_not_exact)

if TYPE_CHECKING:
    from igebm.config import Config


class TrainingDiverged(TrainingFault):
    """Energies went non-finite or exploded; raised with advice, never masked."""


def condition_sampler(data: ArrayDataset, spec):
    """Conditions for chains restarted from noise: uniform labels, or attribute rows of the data."""
    if spec.kind == "label":
        return lambda n, g: torch.randint(0, spec.num_classes, (n,), generator=g)
    if spec.kind == "attributes":
        table = torch.from_numpy(data.attributes)
        return lambda n, g: table[torch.randint(0, len(table), (n,), generator=g)]
    return None


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


class _Objective(torch.nn.Module):
    """The whole loss of one step as one module, so DistributedDataParallel sees one forward per backward
    (the loss calls the energy up to three times: CD, classification term, gradient penalty)."""

    def __init__(self, energy: torch.nn.Module, loss_fn):
        super().__init__()
        self.energy, self._loss_fn = energy, loss_fn

    def forward(self, x_pos, c_pos, x_neg, c_neg):
        return self._loss_fn(x_pos, c_pos, x_neg, c_neg)


class Trainer:
    def __init__(self, cfg: "Config", run_dir: str | Path, *, resume: bool = False,
                 rank: int = 0, world_size: int = 1, train_data: ArrayDataset | None = None,
                 reshard: bool = False, device: torch.device | None = None):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.rank, self.world_size = rank, world_size
        self.is_main = rank == 0
        self.reshard = reshard  # a resume with another world size re-deals the replay buffers
        self.device = device if device is not None else torch.device(cfg.run.device)
        # per-rank batch and learning rate (dist.batch, dist.lr_scaling; docs/distributed.md)
        self.batch, self.lr = distributed.scaled_batch_and_lr(cfg, world_size)
        self.threads = run_threads(cfg.run)  # applied for the duration of fit()
        if world_size > 1 and not cfg.run.threads:
            self.threads = distributed.rank_threads(self.threads, world_size)
        self.data = train_data if train_data is not None else load_dataset(cfg.data, "train", cfg.run.seed)
        self.cond_spec = condition_spec(self.data, cfg.model)
        self.conditional = self.cond_spec.conditional

        torch.manual_seed(cfg.run.seed)
        self.model = build_model(cfg.model, self.data.shape, self.cond_spec).to(self.device)
        self.ema = copy.deepcopy(self.model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        params = [p for p in self.model.parameters() if p.requires_grad]
        t = cfg.train
        self.optimizer = torch.optim.Adam(params, lr=self.lr, betas=(t.beta1, t.beta2))
        self.gen = distributed.rank_generator(cfg.run.seed, rank)
        self.sampler = build_sampler(cfg.sampler, self.data.data_range,
                                     cfg.run.chain_options(expected_chains=t.max_steps))
        check_schedule(t.steps_start, t.steps_warmup, cfg.sampler.steps)
        self.buffer = ReplayBuffer(cfg.buffer.capacity, self.data.shape, noise_fn_for(self.data),
                                   cond_sampler=condition_sampler(self.data, self.cond_spec),
                                   reinit_prob=cfg.buffer.reinit_prob, store_uint8=cfg.buffer.store_uint8,
                                   generator=self.gen)
        self.short_run = cfg.buffer.start in ("warm", "base")  # fresh chains each step, no replay
        if cfg.buffer.start == "warm" and (self.data.warm_start is None or not self.conditional):
            raise UserError(f"config key 'buffer.start' is 'warm', but dataset '{cfg.data.name}' has no warm start "
                            "for its chains (the trajectory datasets have one); use buffer.start = 'replay'")
        if cfg.buffer.start == "base" and not hasattr(self.model, "base_sample"):
            raise UserError(f"config key 'buffer.start' is 'base', but model.arch '{cfg.model.arch}' has no base "
                            "distribution to start chains from; use model.arch = 'mlp-traj-shift' or buffer.start = "
                            "'replay'")
        self.x_all = torch.from_numpy(self.data.x)
        self.c_all = torch.from_numpy(self.data.conditions(self.cond_spec.kind)) if self.conditional else None
        self.shard = distributed.shard_indices(len(self.x_all), rank, world_size, cfg.run.seed)  # None: all data
        self._ddp: torch.nn.Module | None = None  # built at the first step, once every rank has loaded its state
        self.step = 0
        self.saved_step = -1  # the step the newest checkpoint holds; a step is never saved twice
        self.rollbacks = 0
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self._tb = None
        self.lock = RunLock(self.run_dir)  # one writer per run (rank 0 holds it)
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise UserError(f"run directory '{self.run_dir}' is a file, not a folder: choose another --out")
        if resume:
            self._resume()
        elif self.is_main:
            if self.lock.path.is_file():  # a live run's folder: name the process that holds it
                self.lock.acquire().release()
            if ckpt.latest_checkpoint(self.ckpt_dir) is not None:
                raise UserError(f"run directory '{self.run_dir}' already holds checkpoints: "
                                "pass --resume to continue it, or choose another --out")
            found = sorted(p.name for p in self.run_dir.iterdir() if p.name != LOCK_NAME) \
                if self.run_dir.is_dir() else []
            if found:  # a fresh run never empties or overwrites what it finds
                raise UserError(f"run directory '{self.run_dir}' is not empty ({', '.join(found[:4])}) and has no "
                                "checkpoint to resume: choose another --out, or delete the folder to start over")
            self.lock.acquire()
            self.metrics_path.write_text("")
        if self.is_main:
            from igebm.config import save_config
            save_config(cfg, self.run_dir / "config.json")

    # ----------------------------------------------------------------- state
    def _rank_part(self) -> dict[str, torch.Tensor]:
        """What each rank owns: its replay buffer and its random state."""
        return {**{f"buffer.{k}": v for k, v in self.buffer.state_dict().items()},
                "rng.generator": self.gen.get_state(), "rng.torch": torch.get_rng_state()}

    def save(self) -> Path | None:
        """Checkpoint the current step (every rank calls it); a step already saved is not written again."""
        if self.step == self.saved_step:
            return None
        if not self.is_main:
            ckpt.stage_rank_part(self.ckpt_dir, self.step, self.rank, self._rank_part())
            _barrier()
            self.saved_step = self.step
            return None
        _barrier()  # the other ranks have staged their parts
        opt_tensors, opt_meta = ckpt.optimizer_tensors(self.optimizer)
        state = {"step": self.step, "rollbacks": self.rollbacks, "optimizer": opt_meta,
                 "threads": self.threads, "device": str(self.device), "deterministic": self.cfg.run.deterministic,
                 "config": self.cfg.to_dict(), "time": time.time(),
                 "sampler": getattr(self.sampler, "adaptation_state", dict)()}  # adaptive HMC's step-size state
        parts = {"model": self.model.state_dict(), "ema": self.ema.state_dict(), "optimizer": opt_tensors,
                 f"rank{self.rank}": self._rank_part()}
        path = ckpt.save_checkpoint(self.ckpt_dir, self.step, parts, state, keep=self.cfg.train.keep_checkpoints,
                                    world_size=self.world_size)
        self.saved_step = self.step
        return path

    def _load(self, path: Path) -> None:
        rank_part = f"rank{self.rank}"
        parts, state = ckpt.load_checkpoint(path, ("model", "ema", "optimizer"))
        saved_world = int(state.get("world_size", 1))
        redeal = distributed.check_world_size(saved_world, self.world_size, self.reshard, f"'{path}'")
        if not redeal and not (path / f"{rank_part}.safetensors").is_file():
            raise UserError(f"checkpoint '{path}' has no state for rank {self.rank}: it was written with another "
                            f"number of processes; resume with the world size it was trained with")
        names = tuple(f"rank{r}" for r in range(saved_world)) if redeal else (rank_part,)
        parts.update(ckpt.load_checkpoint(path, names)[0])
        ckpt.check_finite(path, parts)  # a poisoned checkpoint is never trusted
        check_resume_config(state.get("config"), self.cfg.to_dict(), f"'{path}'")
        own = self._redealt(parts, names, saved_world, path, int(state["step"])) if redeal else parts[rank_part]
        try:
            self.model.load_state_dict(parts["model"])
            self.ema.load_state_dict(parts["ema"])
            ckpt.load_optimizer(self.optimizer, parts["optimizer"], state["optimizer"])
            self.buffer.load_state_dict({k[len("buffer."):]: v for k, v in own.items() if k.startswith("buffer.")})
            self.gen.set_state(own["rng.generator"])
            torch.set_rng_state(own["rng.torch"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"checkpoint '{path}' does not fit this config ({str(exc).splitlines()[0]}); "
                            "resume with the config the run was started with") from None
        apply_optimizer_hparams(self.optimizer, self.cfg.train)  # --resume --set train.lr=... takes effect
        for group in self.optimizer.param_groups:  # ... scaled for the world size (dist.lr_scaling)
            group["lr"] = self.lr
        self.threads = run_threads(self.cfg.run, state.get("threads"))  # auto keeps the run's own count
        if self.world_size > 1 and not self.cfg.run.threads:
            self.threads = distributed.rank_threads(self.threads, self.world_size)
        warn_if_not_exact(state, self.threads, self.device, f"checkpoint '{path}'")
        self.step = int(state["step"])
        self.saved_step = self.step
        self.rollbacks = int(state.get("rollbacks", 0))
        if state.get("sampler") and hasattr(self.sampler, "load_adaptation_state"):
            self.sampler.load_adaptation_state(state["sampler"])

    def _redealt(self, parts, names, saved_world: int, path: Path, step: int) -> dict[str, torch.Tensor]:
        """This rank's part when the checkpoint's ranks differ: pooled buffers dealt anew, fresh random state."""
        buffers = [{k[len("buffer."):]: v for k, v in parts[n].items() if k.startswith("buffer.")} for n in names]
        own = {f"buffer.{k}": v for k, v in distributed.redeal(buffers, self.rank, self.world_size).items()}
        gen = distributed.rank_generator(self.cfg.run.seed + 104729 * (step + 1), self.rank)
        own["rng.generator"], own["rng.torch"] = gen.get_state(), torch.get_rng_state()
        if self.is_main:
            import warnings
            warnings.warn(f"checkpoint '{path}' was written by {saved_world} process(es), this run has "
                          f"{self.world_size}: re-dealt its {saved_world * len(buffers[0]['x'])} buffered chains over "
                          f"{self.world_size} rank(s) of {len(buffers[0]['x'])} and reseeded each rank (--reshard; "
                          "not bit-exact)", stacklevel=2)
        return own

    def _resume(self) -> None:
        if not self.run_dir.is_dir():
            raise UserError(f"cannot resume: run directory '{self.run_dir}' does not exist")
        if self.is_main:
            self.lock.acquire()
        last = ckpt.latest_checkpoint(self.ckpt_dir)
        if last is None:
            raise UserError(f"cannot resume: '{self.run_dir}' has no checkpoints (start it without --resume)")
        self._load(last)
        if self.is_main:  # drop log lines past the checkpoint
            truncate_after(self.run_dir, self.step)

    # ----------------------------------------------------------------- one step
    def train_step(self) -> dict[str, float]:
        t, g, b = self.cfg.train, self.gen, self.batch
        if self.shard is None:
            idx = torch.randint(0, len(self.x_all), (b,), generator=g)
        else:  # this rank's shard of the data (distributed.shard_indices)
            idx = self.shard[torch.randint(0, len(self.shard), (b,), generator=g)]
        x_pos = self.x_all[idx]
        if self.cfg.data.dequantize:
            x_pos = dequantize(x_pos, self.data.levels, g)
        c_pos = self.c_all[idx] if self.conditional else None

        if self.short_run:  # short-run chains from the data batch's own conditions, nothing kept
            c_neg, slots = c_pos, None
            start = self.model.base_sample if self.cfg.buffer.start == "base" else self.data.warm_start
            x_neg0, fresh = start(c_pos, g), torch.ones(b, dtype=torch.bool)
        else:
            x_neg0, c_neg, slots, fresh = self.buffer.sample(b, g)
            c_neg = relabel(c_neg, c_pos, self.cfg.buffer.label_policy, g) if self.conditional else None
        dev = self.device
        self.model.train()
        k = chain_steps(self.step, t.steps_start, t.steps_warmup, self.cfg.sampler.steps)
        neg = self.sampler.sample(self.model, x_neg0.to(dev), None if c_neg is None else c_neg.to(dev), generator=g,
                                  steps=k)
        x_neg = neg.x

        stats, grad_norm = self.update(x_pos, c_pos, x_neg, c_neg)
        if slots is not None:
            self.buffer.update(slots, x_neg, c_neg)
        self.step += 1
        stats.update(grad_norm=grad_norm, fresh_frac=float(fresh.float().mean()), step=self.step, chain_steps=k)
        stats.update({f"sampler_{k}": v for k, v in neg.stats.items() if isinstance(v, (int, float))})
        self.last_negatives = (x_neg.detach().cpu(), c_neg.cpu() if self.cond_spec.kind == "label" else None)
        return stats

    def _loss(self, x_pos, c_pos, x_neg, c_neg):
        """(loss, energies, stats) of one batch of data and negatives (both on this rank)."""
        t, dev = self.cfg.train, self.device
        x_both = torch.cat([x_pos.to(dev), x_neg.to(dev)])
        c_both = None if c_pos is None else torch.cat([c_pos.to(dev), c_neg.to(dev)])
        energies = self._energies(x_both, c_both)
        e_pos, e_neg = energies[: len(x_pos)], energies[len(x_pos):]
        loss, stats = cd_loss(e_pos, e_neg, t.l2_alpha)
        if t.ce_alpha > 0 and self.cond_spec.kind == "label":
            n = min(t.ce_batch, len(x_pos))
            ce, ce_stats = classification_loss(self.model, x_pos[:n].to(dev), c_pos[:n].to(dev),
                                               self.cond_spec.num_classes, t.ce_temperature)
            loss = loss + t.ce_alpha * ce
            stats.update(ce_stats)
        if t.gp_alpha > 0:
            gp, gp_stats = gradient_penalty(self.model, x_both, c_both)
            loss = loss + t.gp_alpha * gp
            stats.update(gp_stats)
        return loss, energies, stats

    def update(self, x_pos, c_pos, x_neg, c_neg) -> tuple[dict[str, float], float]:
        """One optimiser step on fixed data and negatives; gradients are averaged over the ranks.

        With several ranks the loss runs through DistributedDataParallel (the chains ran on the bare
        model, so no gradient was synchronised during them). Returns (stats, gradient norm).
        """
        t = self.cfg.train
        self.model.train()
        if self.world_size > 1 and distributed.is_initialized():  # (ranks simulated in one process: no group)
            if self._ddp is None:
                self._ddp = distributed.wrap_ddp(_Objective(self.model, self._loss), self.device)
            loss, energies, stats = self._ddp(x_pos, c_pos, x_neg, c_neg)
        else:
            loss, energies, stats = self._loss(x_pos, c_pos, x_neg, c_neg)
        self._check_divergence(loss, energies)

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for grp in self.optimizer.param_groups for p in grp["params"]]
        grad_norm = float(torch.linalg.vector_norm(torch.stack(
            [p.grad.detach().norm() for p in params if p.grad is not None])))
        if t.grad_clip == "igebm":
            clip_grads_igebm(self.optimizer)
        elif t.grad_clip == "norm":
            torch.nn.utils.clip_grad_norm_(params, t.grad_clip_norm)
        self.optimizer.step()
        self._check_finite_params()
        self._update_ema()
        return stats, grad_norm

    def _energies(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """E of the loss's batch, in the chains' precision and layout (run.precision, run.channels_last).

        bf16 is autocast only: parameters, their gradients and Adam stay fp32, the energies come back fp32.
        """
        x = to_layout(x, self.sampler.options.channels_last)
        bf16 = self.sampler.resolved_precision == "bf16"
        with autocast(x.device, bf16):
            e = self.model(x, c)
        return e.float() if bf16 else e

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.cfg.train.ema_decay
        for p_ema, p in zip(self.ema.parameters(), self.model.parameters()):
            p_ema.lerp_(p, 1.0 - decay)
        for b_ema, b in zip(self.ema.buffers(), self.model.buffers()):
            b_ema.copy_(b)

    def _check_divergence(self, loss: torch.Tensor, energies: torch.Tensor) -> None:
        limit = self.cfg.train.divergence_energy
        fine = bool(torch.isfinite(loss)) and float(energies.detach().abs().max()) < limit
        if self.world_size > 1:  # decided together: every rank stops (or rolls back) at the same step
            if not distributed.any_true(not fine):
                return
            self._ddp = None  # no backward followed its forward: rebuild the wrapper after a rollback
        elif fine:
            return
        what = ("on another rank" if fine else
                "non-finite loss" if not torch.isfinite(loss) else f"|energy| above {limit:g}")
        raise TrainingDiverged(
            f"training diverged at step {self.step + 1} ({what}). Try a lower train.lr, more "
            "sampler.steps, a larger train.l2_alpha or model.activation='swish'; or set "
            "train.on_divergence='rollback' to restart from the last good checkpoint with a new seed")

    # ----------------------------------------------------------------- loop
    def _log(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        append_record(self.metrics_path, record)
        if self._tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != "step":
                    self._tb.add_scalar(f"train/{k}", v, record["step"])

    def _open_tensorboard(self) -> None:
        if not (self.is_main and self.cfg.train.tensorboard):
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional
            return
        self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))

    def _save_sample_grid(self) -> None:
        if not (self.is_main and self.data.is_image and hasattr(self, "last_negatives")):
            return
        from igebm.grids import save_grid
        x, y = self.last_negatives
        order = torch.argsort(y, stable=True) if y is not None else torch.arange(len(x))
        (self.run_dir / "samples").mkdir(exist_ok=True)
        save_grid(x[order][:100].numpy(), self.run_dir / "samples" / f"step_{self.step:07d}.png", nrow=10)

    def _check_finite_params(self) -> None:
        """An update that made a parameter NaN or inf is a divergence, caught before anything is saved."""
        params = [p for grp in self.optimizer.param_groups for p in grp["params"]]
        with torch.no_grad():
            if bool(torch.isfinite(torch.stack([p.detach().sum() for p in params])).all()):
                return
        raise TrainingDiverged(
            f"training diverged at step {self.step + 1} (the update made the weights non-finite). Try a lower "
            "train.lr, or set train.on_divergence='rollback' to restart from the last good checkpoint with a new seed")

    def _latest_finite(self) -> Path | None:
        """The newest checkpoint whose tensors are all finite (rollback never reloads a poisoned one)."""
        parts = ("model", "ema", "optimizer", f"rank{self.rank}")
        for path in reversed(ckpt.list_checkpoints(self.ckpt_dir)):
            if ckpt.is_finite_checkpoint(path, parts):
                return path
        return None

    def _rollback(self, err: TrainingDiverged) -> None:
        last = self._latest_finite() if self.cfg.train.on_divergence == "rollback" else None
        if (self.cfg.train.on_divergence != "rollback" or last is None
                or self.rollbacks >= self.cfg.train.max_rollbacks):
            raise err
        rollbacks = self.rollbacks + 1
        self._load(last)
        self.rollbacks = rollbacks
        self.gen.manual_seed(self.cfg.run.seed * 1000 + self.rank + 7919 * rollbacks)
        self._log({"step": self.step, "event": "rollback", "reason": str(err), "rollbacks": rollbacks})

    def fit(self, max_steps: int | None = None) -> dict[str, Any]:
        if self.is_main:
            self.lock.acquire()
        threads_before = torch.get_num_threads()
        det_before = (torch.are_deterministic_algorithms_enabled(),
                      torch.is_deterministic_algorithms_warn_only_enabled())
        self.threads = apply_determinism(self.cfg.run, self.threads)  # the thread count is part of an exact run
        try:
            return self._fit(max_steps)
        finally:  # what runs after training (evaluation) gets the process's own settings back
            torch.set_num_threads(threads_before)
            torch.use_deterministic_algorithms(det_before[0], warn_only=det_before[1])
            self.lock.release()

    def _fit(self, max_steps: int | None = None) -> dict[str, Any]:
        t = self.cfg.train
        max_steps = t.max_steps if max_steps is None else max_steps
        deadline = time.time() + 60 * t.max_minutes if t.max_minutes > 0 else math.inf
        self._open_tensorboard()
        bar = None
        if self.is_main and t.progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=max_steps, initial=self.step, desc="train", unit="it", dynamic_ncols=True)
        t0, start_step = time.time(), self.step
        stats: dict[str, Any] = {}
        try:
            while self.step < max_steps and not self._past(deadline):
                try:
                    stats = self.train_step()
                except TrainingDiverged as err:
                    self._rollback(err)
                    continue
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{stats['loss']:.3f}", e_pos=f"{stats['e_pos']:.3f}",
                                    e_neg=f"{stats['e_neg']:.3f}", refresh=False)
                if self.step % t.log_every == 0 or self.step == max_steps:
                    elapsed = time.time() - t0
                    rate = (self.step - start_step) / max(elapsed, 1e-9)
                    extra = {}
                    if self.world_size > 1:  # rank 0 logs the ranks' mean, with each rank's throughput
                        stats = distributed.mean_stats(stats)
                        extra = {"rank_it_per_s": [round(r, 3) for r in distributed.gather_floats(rate)]}
                    self._log({**stats, "time": elapsed, "it_per_s": rate, **extra})
                if self.step % t.sample_every == 0:
                    self._save_sample_grid()
                if self.step % t.checkpoint_every == 0:
                    self.save()
        finally:
            if bar is not None:
                bar.close()
            if self._tb is not None:
                self._tb.close()
        self._save_sample_grid()
        self.save()
        seconds = time.time() - t0
        summary = {"step": self.step, "seconds": seconds, **stats}
        if self.world_size > 1:
            rates = distributed.gather_floats((self.step - start_step) / max(seconds, 1e-9))
            summary["rank_it_per_s"] = rates
            if self.is_main:
                print("throughput per rank: " + ", ".join(f"rank {r} {v:.2f} it/s" for r, v in enumerate(rates))
                      + f" (batch {self.batch} per rank, {self.batch * self.world_size} in all)", flush=True)
        return summary

    def _past(self, deadline: float) -> bool:
        """The wall-clock cap; with several ranks decided together, so every rank stops at the same step."""
        if deadline == math.inf:
            return False
        late = time.time() >= deadline
        return distributed.any_true(late) if self.world_size > 1 else late
