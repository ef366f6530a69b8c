"""How a chain computes its energy: precision, memory layout and compilation (`ChainOptions`).

The chain state, its noise and its update always stay float32; these options change only
how E(x) and dE/dx are evaluated:
- `precision`: "fp32", "bf16" (autocast for the energy's forward and input-gradient) or
  "auto": bf16 only where the device has native bf16 AND a self-check on the actual energy
  agrees with fp32 (`resolve_precision`), else fp32 with a one-line notice.
- `channels_last`: 4-D chain inputs and the chain's folded conv weights in channels_last.
- `compile`: "off", "step" (the whole Langevin step compiled, `torch.func.grad` inside) or
  "auto" (compile only when a sampler expects enough steps to repay the compile time).

With bf16 or channels_last the chain's weights are folded once per chain (`WeightCache`):
spectral norms computed once in fp32 and the results cast and laid out once, instead of
autocast re-casting every weight on every call.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils import parametrize

PRECISIONS = ("fp32", "bf16", "auto")
COMPILES = ("off", "step", "auto")
# `compile = "auto"` compiles when steps x expected chains reaches this: compiling costs
# 6-13 s here and saves a few ms a step, so a 100-step `igebm sample` never pays, a training run does.
COMPILE_MIN_STEPS = 5000
# The self-check of `precision = "auto"`: bf16 input-gradients within this relative L2 error of fp32.
AUTO_GRAD_TOL = 0.1


@dataclass
class ChainOptions:
    precision: str = "fp32"  # fp32 | bf16 | auto
    channels_last: bool = False
    compile: str = "off"  # off | step | auto
    expected_chains: int = 1  # how many chains this sampler will run (a training run: its steps); for compile=auto

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.compile not in COMPILES:
            raise ValueError(f"compile must be one of {COMPILES}, got {self.compile!r}")

    def describe(self, threads: int | None = None) -> str:
        """The report's line, e.g. 'precision bf16, channels_last on, compile off, threads 2'."""
        out = f"precision {self.precision}, channels_last {'on' if self.channels_last else 'off'}, compile {self.compile}"
        return out + (f", threads {threads}" if threads is not None else "")


def notice(msg: str) -> None:
    print(f"igebm: {msg}", file=sys.stderr, flush=True)


@functools.lru_cache(maxsize=None)
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
    return frozenset(flags)


def native_bf16(device: torch.device) -> bool:
    """True where bf16 matmul/conv run natively (not emulated): AVX512-BF16/AMX or ARM bf16 on CPU."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and _cpu_flags() & {"avx512_bf16", "amx_bf16", "bf16"})
    return False


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast, or no context at all (so any device works, and a caller's autocast stays as it is)."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def to_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def fold_weights(module: nn.Module, dtype: torch.dtype | None, channels_last: bool) -> dict[str, torch.Tensor]:
    """Every parameter and buffer under its plain name, parametrizations evaluated once.

    Call inside `parametrize.cached()` so a spectral norm's power iteration runs once (and
    updates its vectors), as in an eager chain. Floating tensors are cast to `dtype` and
    4-D ones put in channels_last. The names are those of `stripped(module)`.
    """
    out: dict[str, torch.Tensor] = {}
    for prefix, m in module.named_modules(remove_duplicate=False):
        if ".parametrizations." in f".{prefix}." or prefix.startswith("parametrizations"):
            continue
        dot = f"{prefix}." if prefix else ""
        if parametrize.is_parametrized(m):
            for name in m.parametrizations.keys():
                out[dot + name] = getattr(m, name)
        for name, p in m.named_parameters(recurse=False):
            out[dot + name] = p
        for name, b in m.named_buffers(recurse=False):
            out[dot + name] = b
    for k, v in out.items():
        v = v.detach()
        if v.is_floating_point():
            if dtype is not None and v.dtype != dtype:
                v = v.to(dtype)
            v = to_layout(v, channels_last)
        out[k] = v
    return out


_STRIPPED: "weakref.WeakKeyDictionary[nn.Module, nn.Module]" = weakref.WeakKeyDictionary()


def stripped(module: nn.Module) -> nn.Module:
    """A structural copy of `module` without parametrizations, for `functional_call` with folded weights.

    (Passing a parametrized weight's plain name to `functional_call` would set it through the
    parametrization's right inverse, not bypass it.) Made once per module; its own tensors are unused.
    """
    clone = _STRIPPED.get(module)
    if clone is None:
        clone = copy.deepcopy(module)
        for m in list(clone.modules()):
            if parametrize.is_parametrized(m):
                # by hand: `remove_parametrizations` deletes the property from the class, which the
                # original module shares with this copy
                plist = m._modules.pop("parametrizations")
                m.__class__ = m.__class__.__bases__[0]
                for name, pl in plist.items():
                    m.register_parameter(name, nn.Parameter(pl.original.detach().clone(), requires_grad=False))
        for p in clone.parameters():
            p.requires_grad_(False)
        _STRIPPED[module] = clone
    clone.train(module.training)  # dropout and the like follow the original's mode
    return clone


class WeightCache:
    """Folded weights per energy module, built on first use within one chain (composite experts each get theirs)."""

    def __init__(self, dtype: torch.dtype | None, channels_last: bool):
        self.dtype, self.channels_last = dtype, channels_last
        self._cache: dict[int, tuple[nn.Module, nn.Module, dict[str, torch.Tensor]]] = {}

    def keep_fp32(self) -> None:
        """Stop casting (an energy that leaves autocast inside needs its weights in fp32); layout stays."""
        self.dtype = None
        self._cache.clear()

    def get(self, module: nn.Module) -> tuple[nn.Module, dict[str, torch.Tensor]]:
        hit = self._cache.get(id(module))
        if hit is None or hit[0] is not module:
            hit = (module, stripped(module), fold_weights(module, self.dtype, self.channels_last))
            self._cache[id(module)] = hit
        return hit[1], hit[2]


def _load(clone: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Put a chain's folded tensors into the stripped copy itself, so each call is a plain module call
    (`functional_call` swaps every tensor in and out on every call: measurable on small energies)."""
    for name, t in weights.items():
        path, _, leaf = name.rpartition(".")
        m = clone.get_submodule(path) if path else clone
        (m._parameters if leaf in m._parameters else m._buffers)[leaf] = t
    clone._igebm_loaded = weights


def call_folded(module: nn.Module, folded: tuple[nn.Module, dict[str, torch.Tensor]] | None, x: torch.Tensor,
                cond: torch.Tensor | None) -> torch.Tensor:
    """E(x[, cond]) with `folded` = (stripped module, weights) from a `WeightCache`, or the module as it is."""
    args = (x,) if cond is None else (x, cond)
    if folded is None:
        return module(*args)
    clone, weights = folded
    if getattr(clone, "_igebm_loaded", None) is not weights:
        _load(clone, weights)
    return clone(*args)


def call_functional(clone: nn.Module, weights: dict[str, torch.Tensor], x: torch.Tensor,
                    cond: torch.Tensor | None) -> torch.Tensor:
    """The same through `functional_call`, for traced code (a compiled step takes the weights as inputs)."""
    return functional_call(clone, weights, (x,) if cond is None else (x, cond), strict=True)


def grad_rel_error(energy: nn.Module, x: torch.Tensor, cond: torch.Tensor | None, channels_last: bool) -> float:
    """Relative L2 error of the bf16 input-gradient against fp32 on `x` (parameters frozen by the caller)."""
    grads = []
    for bf16 in (False, True):
        xx = to_layout(x.detach().clone(), channels_last).requires_grad_(True)
        with torch.enable_grad(), autocast(x.device, bf16):
            e = call_folded(energy, None, xx, cond)
        (g,) = torch.autograd.grad(e.float().sum(), xx)
        grads.append(g.float())
    return float((grads[1] - grads[0]).norm() / grads[0].norm().clamp_min(1e-12))


def resolve_precision(requested: str, energy: nn.Module, x: torch.Tensor, cond: torch.Tensor | None,
                      channels_last: bool = False) -> str:
    """'fp32' or 'bf16': `auto` is bf16 only on native-bf16 hardware and when the self-check agrees."""
    if requested != "auto":
        return requested
    if not native_bf16(x.device):
        notice(f"precision auto: {x.device.type} has no native bf16, using fp32")
        return "fp32"
    n = min(len(x), 16)
    err = grad_rel_error(energy, x[:n], None if cond is None else cond[:n], channels_last)
    if not err <= AUTO_GRAD_TOL:
        notice(f"precision auto: bf16 gradient differs from fp32 by {err:.1%} (> {AUTO_GRAD_TOL:.0%}), using fp32")
        return "fp32"
    notice(f"precision auto: bf16 (native; gradient within {err:.1%} of fp32)")
    return "bf16"


def resolve_compile(requested: str, steps: int, expected_chains: int) -> bool:
    if requested == "auto":
        return steps * expected_chains >= COMPILE_MIN_STEPS
    return requested == "step"
