"""Compose trained runs: experts with bound attributes, combined by AND, OR or NOT, and sampled."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from igebm.errors import UserError
from igebm.models.algebra import AND, NOT, OR, Composable, Expert, Mixture
from igebm.sampling import Sampler
from igebm.sampling.composite import AlternatingSampler
from igebm.training import TrainedRun

OPS = ("and", "or", "not")
ATTRIBUTE_ORDER = ("size", "x", "y")
MODES = ("sum", "alternate", "alternate-full-noise")


def expert_from_run(run: TrainedRun, name: str | None = None, energy: torch.nn.Module | None = None) -> Expert:
    """The run's EMA energy (or `energy`, conditioned like it) as an `Expert` that knows its attribute names
    (or class count)."""
    spec = run.cond_spec
    return Expert(run.energy if energy is None else energy, spec.attribute_names if spec.kind == "attributes" else (),
                  name=name or f"expert '{run.run_dir}'", num_classes=spec.num_classes)


def expert_from_runs(runs: Sequence[TrainedRun], name: str | None = None) -> Expert:
    """One run's expert, or a seed ensemble: the mean energy of several runs of one recipe.

    Averaging seeds trades one training's luck for its spread (docs/composition.md, "Seed ensembles")."""
    if len(runs) == 1:
        return expert_from_run(runs[0], name)
    from igebm.models.ensemble import EnsembleEnergy

    first = runs[0]
    for run in runs[1:]:
        if run.cond_spec != first.cond_spec or run.cfg.data.name != first.cfg.data.name:
            raise UserError(f"the members of one expert must be runs of one recipe (seeds), but '{first.run_dir}' "
                            f"was trained on {first.cfg.data.name} ({_conditioned_on(first)}) and '{run.run_dir}' "
                            f"on {run.cfg.data.name} ({_conditioned_on(run)})")
    check_same_shape(runs)
    names = "+".join(str(r.run_dir) for r in runs)
    return expert_from_run(first, name or f"expert '{names}'", EnsembleEnergy([r.energy for r in runs], mean=True))


def _conditioned_on(run: TrainedRun) -> str:
    spec = run.cond_spec
    return ("attributes " + ", ".join(spec.attribute_names) if spec.kind == "attributes" else
            f"{spec.num_classes} labels" if spec.kind == "label" else "no condition")


def check_same_shape(runs: Sequence[TrainedRun]) -> tuple[int, ...]:
    shapes = [run.dataset("train").shape for run in runs]
    if any(s != shapes[0] for s in shapes):
        listed = ", ".join(f"{r.run_dir}: {'x'.join(map(str, s))}" for r, s in zip(runs, shapes))
        raise UserError(f"experts must share one input shape, got {listed}")
    return shapes[0]


def build_composite(experts: Sequence[Expert], attrs: Sequence[dict], op: str = "and",
                    weights: Sequence[float] | None = None, temperature: float = 1.0) -> Composable:
    """Bind each expert's attributes and combine: and = sum w_i E_i, or = -T lse(-w_i E_i / T),
    not = w_1 E_1 - w_2 E_2 (weights default to 1 and, for not, 0.5 on the negated term)."""
    if op not in OPS:
        raise UserError(f"unknown op '{op}' (choose one of {', '.join(OPS)})")
    if weights is not None and len(weights) != len(experts):
        raise UserError(f"{len(weights)} weights for {len(experts)} experts: give one --weight per expert")
    bound = [e.given(**a) for e, a in zip(experts, attrs)]
    if op == "and":
        return AND(*bound, weights=weights)
    if op == "or":
        if len(bound) < 2:
            raise UserError("--op or needs at least two experts")
        return OR(*bound, weights=weights, temperature=temperature)
    if len(bound) != 2:
        raise UserError(f"--op not needs exactly two experts (keep the first, negate the second), got {len(bound)}")
    w = list(weights) if weights is not None else [1.0, 0.5]
    return NOT(bound[0], bound[1], weight=w[1], positive_weight=w[0])


def requested_attributes(attrs: Sequence[dict], op: str, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """(n, K) float32 of the values asked of each sample, NaN where none was, and the K names.

    AND asks for every expert's values; OR only for values all experts agree on (the
    others are 'either', so NaN); NOT only for the first (kept) expert's.
    """
    used = [a for a in (attrs[:1] if op == "not" else attrs)]
    names = tuple(k for k in ATTRIBUTE_ORDER if any(k in a for a in attrs))
    row = np.full(len(names), np.nan, dtype=np.float32)
    for j, k in enumerate(names):
        values = {float(a[k]) for a in used if k in a}
        if op == "or" and (len(values) != 1 or not all(k in a for a in used)):
            continue
        if len(values) == 1:
            row[j] = values.pop()
    return np.tile(row, (n, 1)), names


def sample_composite(energy: Composable, sampler: Sampler, x0: torch.Tensor, steps: int,
                     generator: torch.Generator, mode: str = "sum", record_every: int = 0,
                     warm_start: Composable | None = None, warm_steps: int = 0):
    """Run `sampler` on the composite from x0: the summed gradient ('sum'), or one step per expert in turn
    with the noise split among them ('alternate') or full noise at each ('alternate-full-noise', as released).

    With `warm_start`, the chains first sample that energy alone for `warm_steps` (one expert of the
    composite, say), then the composite from there: an annealing path that places first what only
    one expert knows how to place (docs/composition.md, "Warm start")."""
    if mode not in MODES:
        raise UserError(f"unknown sampling mode '{mode}' (choose one of {', '.join(MODES)})")
    if warm_start is not None and warm_steps > 0:
        x0 = sampler.sample(warm_start, x0, None, steps=warm_steps, generator=generator).x
    s = sampler if mode == "sum" else AlternatingSampler.around(sampler, split_noise=mode == "alternate")
    return s.sample(energy, x0, None, steps=steps, generator=generator, record_every=record_every)


def part_log_masses(mixture: Mixture, part_energies: Sequence[torch.Tensor]) -> torch.Tensor:
    """Each OR part's log mass under the mixture, c_k - mean E_k (up to a shared constant), from the
    energies of its own samples.

    Where the parts' wells are apart, exp(-E) is exp(-(E_k - c_k)) near well k whatever the temperature,
    so T does not enter. Exact when the wells have one shape and differ only in depth (as in
    `calibrate_offsets`): calibrated offsets make the masses equal."""
    means = torch.stack([e.float().mean() for e in part_energies])
    return torch.tensor(mixture.offsets, dtype=torch.float32, device=means.device) - means


def sample_mixture(mixture: Mixture, sampler: Sampler, x0: torch.Tensor, steps: int,
                   generator: torch.Generator, part_steps: int | None = None):
    """Ancestral sampling of an OR: sample each part alone, give each part a share of the chains equal to its
    estimated mass (`part_log_masses`), then run Langevin on the mixture itself from there for `steps`.

    Langevin from noise rarely crosses between a mixture's modes, so its shares follow the basins the
    chains start in, not the masses; choosing the part first is how a mixture is sampled exactly.
    Returns (result, parts): `parts[i]` is the part chain i started in."""
    runs = sample_parts(mixture, sampler, x0, steps if part_steps is None else part_steps, generator)
    shares = torch.softmax(part_log_masses(mixture, [r.energies for r in runs]), 0)
    counts = torch.floor(shares * len(x0)).long()
    rest = (shares * len(x0) - counts).argsort(descending=True)[: len(x0) - int(counts.sum())]
    counts[rest] += 1  # largest remainders: the counts follow the shares as closely as whole chains can
    parts = torch.repeat_interleave(torch.arange(len(runs)), counts)[torch.randperm(len(x0), generator=generator)]
    start = torch.stack([r.x for r in runs])[parts, torch.arange(len(x0))]
    return sampler.sample(mixture, start, None, steps=steps, generator=generator), parts


def calibrate_offsets(mixture: Mixture, sampler: Sampler, x0: torch.Tensor, steps: int,
                      generator: torch.Generator) -> Mixture:
    """Set an OR's offsets to each part's mean energy over samples of that part alone (from x0); return it.

    A conditional energy is not normalised per condition: if two conditions' wells have one shape
    and differ only in depth, their partition functions differ by exactly that depth, which is the
    difference of their samples' mean energies. Subtracting it gives each part equal mass.
    """
    mixture.offsets = [float(r.energies.mean()) for r in sample_parts(mixture, sampler, x0, steps, generator)]
    return mixture


def sample_parts(mixture: Mixture, sampler: Sampler, x0: torch.Tensor, steps: int, generator: torch.Generator):
    """Each OR part sampled alone from x0, in order: what calibration and ancestral sampling both start from."""
    return [sampler.sample(part, x0.clone(), None, steps=steps, generator=generator) for part in mixture.parts]
