"""Generation: unconditional and class-conditional sampling from a trained energy.

Chains start from the same noise as training's fresh chains and run Langevin
dynamics on the EMA energy. More steps is the paper's "adaptive computation":
`generate_at_steps` returns snapshots of the same chains at several step counts.
"""

from __future__ import annotations

import torch

from igebm.training.run import TrainedRun


def make_labels(run: TrainedRun, num: int, label: int | None = None, all_labels: bool = False,
                generator: torch.Generator | None = None) -> torch.Tensor | None:
    """Labels for `num` samples: one class, all classes in turn, or uniform at random."""
    if not run.labelled:
        return None
    k = run.num_classes
    if label is not None:
        return torch.full((num,), label, dtype=torch.long)
    if all_labels:
        return torch.arange(num) % k
    return torch.randint(0, k, (num,), generator=generator)


def generate_at_steps(run: TrainedRun, labels: torch.Tensor | None, num: int, steps: list[int],
                      seed: int = 0, batch_size: int = 500) -> dict[int, torch.Tensor]:
    """Sample `num` chains from noise; return {step: samples} for each requested step count."""
    steps = sorted(set(steps))
    g = torch.Generator().manual_seed(seed)
    out: dict[int, list[torch.Tensor]] = {s: [] for s in steps}
    for start in range(0, num, batch_size):
        n = min(batch_size, num - start)
        x = run.noise(n, g)
        y = None if labels is None else labels[start:start + n]
        done = 0
        for s in steps:
            x = run.sampler.sample(run.energy, x, y, steps=s - done, generator=g).x
            done = s
            out[s].append(x.cpu())
    return {s: torch.cat(v) for s, v in out.items()}


def generate(run: TrainedRun, num: int, labels: torch.Tensor | None = None, steps: int | None = None,
             seed: int = 0, batch_size: int = 500) -> torch.Tensor:
    steps = run.sampler.steps if steps is None else steps
    return generate_at_steps(run, labels, num, [steps], seed, batch_size)[steps]


def pick_batch_size(run: TrainedRun, num: int, candidates: tuple[int, ...] = (32, 64, 128, 256, 512, 1024),
                    probe_steps: int = 2, within: float = 0.9) -> int:
    """The smallest chain batch whose sample-steps a second reach `within` of the best measured.

    A few chain steps per candidate (up to `num`): small batches leave cores idle between
    kernels, large ones only add memory and latency once the machine is full.
    """
    import time

    sizes = sorted({min(c, num) for c in candidates})
    g = torch.Generator().manual_seed(0)
    rates = {}
    for n in sizes:
        x = run.noise(n, g)
        y = None if not run.labelled else torch.randint(0, run.num_classes, (n,), generator=g)
        run.sampler.sample(run.energy, x, y, steps=1, generator=g)  # warm-up (and precision=auto's check)
        t0 = time.perf_counter()
        run.sampler.sample(run.energy, x, y, steps=probe_steps, generator=g)
        rates[n] = n * probe_steps / max(time.perf_counter() - t0, 1e-9)
        if n > sizes[0] and rates[n] < within * max(rates.values()):
            break  # past the best: larger only slows
    best = max(rates.values())
    return min(n for n, r in rates.items() if r >= within * best)
