"""The `[run]` and `[train]` sections: identity of a run, and how it trains."""

from __future__ import annotations

from dataclasses import dataclass

from igebm.errors import UserError

GRAD_CLIPS = ("igebm", "norm", "none")
ON_DIVERGENCE = ("stop", "rollback")


@dataclass
class RunConfig:
    name: str = "run"
    seed: int = 0
    device: str = "cpu"
    # Exact resume: deterministic algorithms and a fixed intra-op thread count (recorded in each
    # checkpoint; a resume with another count or device warns that it will not be bit-exact).
    deterministic: bool = True
    threads: int = 0  # intra-op CPU threads; 0 = auto (resume.run_threads: the usable cores, never oversubscribed)
    # How chains (and the CD loss) evaluate the energy (igebm.sampling.options, docs/performance.md):
    precision: str = "fp32"  # fp32 | bf16 (autocast; chain state, noise, update, parameters stay fp32) | auto
    channels_last: bool = False  # 4-D images and conv weights in channels_last
    compile: str = "off"  # off | step (compile the whole Langevin step) | auto (only when a run repays it)

    def validate(self) -> None:
        import torch

        from igebm.sampling.options import COMPILES, PRECISIONS

        if self.threads < 0:
            raise UserError(f"config key 'run.threads' must be 0 (auto) or a positive count, got {self.threads}")
        if self.precision not in PRECISIONS:
            raise UserError(f"config key 'run.precision' is {self.precision!r}; choose one of {list(PRECISIONS)}")
        if self.compile not in COMPILES:
            raise UserError(f"config key 'run.compile' is {self.compile!r}; choose one of {list(COMPILES)}")

        try:
            dev = torch.device(self.device)
        except (RuntimeError, ValueError):
            raise UserError(f"config key 'run.device' is {self.device!r}: not a device; use cpu, cuda or cuda:N") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise UserError(f"config key 'run.device' is {self.device!r}, but this torch build sees no CUDA GPU; "
                            "use run.device=cpu")
        if dev.type not in ("cpu", "cuda", "mps"):
            raise UserError(f"config key 'run.device' is {self.device!r}; use cpu, cuda or cuda:N")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise UserError("config key 'run.device' is 'mps', but MPS is not available; use run.device=cpu")
        if self.seed < 0:
            raise UserError(f"config key 'run.seed' must be 0 or positive, got {self.seed}")

    def chain_options(self, expected_chains: int = 1):
        """The sampler's `ChainOptions` from this section (`expected_chains`: how many chains it will run)."""
        from igebm.sampling.options import ChainOptions

        return ChainOptions(self.precision, self.channels_last, self.compile, expected_chains)


@dataclass
class TrainConfig:
    batch_size: int = 128
    lr: float = 3e-4
    beta1: float = 0.0
    beta2: float = 0.999
    grad_clip: str = "igebm"  # igebm | norm | none
    grad_clip_norm: float = 1.0
    l2_alpha: float = 1.0
    ce_alpha: float = 0.0  # conditional runs: weight of cross-entropy of softmax(-E(x, y)) on data (JEM-style)
    ce_batch: int = 32  # data images per step that get the classification term
    ce_temperature: float = 0.01  # p(y | x) = softmax(-E / T): CD keeps energies small, so T is small
    gp_alpha: float = 0.0  # weight of the gradient penalty mean |dE/dx|^2 on data and samples (the seed's lesson)
    max_steps: int = 1000
    max_minutes: float = 0.0  # 0 = no wall-clock limit
    # Short chains first: K rises linearly from steps_start to sampler.steps over the first steps_warmup
    # training steps (0 = off, every step runs sampler.steps); early energies are too rough to need long chains.
    steps_start: int = 0
    steps_warmup: int = 0
    ema_decay: float = 0.999
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 200
    keep_checkpoints: int = 3  # the newest N checkpoints are kept (at least 1)
    on_divergence: str = "stop"  # stop | rollback
    divergence_energy: float = 1e4  # |E| above this counts as divergence
    max_rollbacks: int = 3
    tensorboard: bool = True  # used when tensorboard is installed
    progress: bool = True

    def validate(self) -> None:
        def bad(key: str, rule: str) -> UserError:
            return UserError(f"config key 'train.{key}' must be {rule}, got {getattr(self, key)}")

        if self.grad_clip not in GRAD_CLIPS:
            raise UserError(f"config key 'train.grad_clip' is {self.grad_clip!r}; choose one of {list(GRAD_CLIPS)}")
        if self.on_divergence not in ON_DIVERGENCE:
            raise UserError(f"config key 'train.on_divergence' is {self.on_divergence!r}; "
                            f"choose one of {list(ON_DIVERGENCE)}")
        for key in ("batch_size", "max_steps", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                    "ce_batch"):
            if getattr(self, key) < 1:
                raise bad(key, "a positive integer")
        for key in ("lr", "grad_clip_norm", "ce_temperature", "divergence_energy"):
            if not getattr(self, key) > 0:
                raise bad(key, "positive")
        for key in ("l2_alpha", "ce_alpha", "gp_alpha", "max_minutes", "max_rollbacks", "steps_start", "steps_warmup"):
            if getattr(self, key) < 0:
                raise bad(key, "0 or positive")
        if (self.steps_start > 0) != (self.steps_warmup > 0):
            raise UserError("config keys 'train.steps_start' and 'train.steps_warmup' go together: set both "
                            f"(a K schedule) or neither, got {self.steps_start} and {self.steps_warmup}")
        for key in ("beta1", "beta2", "ema_decay"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise bad(key, "in [0, 1)")
