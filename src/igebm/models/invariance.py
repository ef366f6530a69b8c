"""Image energies indifferent to one attribute by construction: canonicalise the input, then score it.

Why: a size expert trained only on centred shapes learns that off-centre shapes are unlikely, and a
position expert trained at one size learns that other sizes are; their sum then settles between the
two requests (docs/RESULTS.md, "Composition"). Moving the image's centre of mass to the middle before
the network sees it makes an energy translation-invariant; rescaling the image about its centre of
mass to a fixed spread makes it scale-invariant. Both transforms are bilinear resampling, so the
sampler's input gradient flows through them, and the network behind them is unchanged.
Measured on shapes: translation helps the size expert; scale does not help the position expert (a
scale-invariant energy sees a bright full frame as a large square), docs/results/composition_val.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

INVARIANCES = ("none", "translation", "scale")
CANONICAL_SPREAD = 0.3  # RMS distance from the centre of mass, in grid_sample's [-1, 1] units (~ a third-width square)
_EPS = 1e-3


def pixel_grid(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """(H, W, 2) pixel centres as grid_sample's (x, y) in [-1, 1] with align_corners=False."""
    ys = (torch.arange(h, device=like.device, dtype=like.dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=like.device, dtype=like.dtype) * 2 + 1) / w - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)


def mass_moments(x: torch.Tensor, grid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre of mass (N, 2) and RMS spread (N,) of the images' positive intensity, in [-1, 1] units
    (`grid`: the images' own pixel_grid, when the caller has it)."""
    if grid is None:
        grid = pixel_grid(x.shape[-2], x.shape[-1], x)
    m = x.clamp(min=0).sum(dim=1)  # (N, H, W): mass summed over channels
    total = m.sum(dim=(1, 2)) + _EPS
    centre = torch.einsum("nhw,hwk->nk", m, grid) / total[:, None]
    d2 = ((grid[None] - centre[:, None, None, :]) ** 2).sum(-1)
    spread = ((m * d2).sum(dim=(1, 2)) / total + _EPS).sqrt()
    return centre, spread


def canonicalise(x: torch.Tensor, invariance: str, spread: float = CANONICAL_SPREAD, supersample: int = 4) -> torch.Tensor:
    """The image as an invariant energy sees it: centred ('translation') or rescaled to `spread` about its
    centre of mass ('scale'); zeros outside the original frame.

    Shrinking resamples at `supersample`^2 points per output pixel and averages them, so every input
    pixel is seen (and gets a gradient) up to a shrink of `supersample` times; a shift needs no more than one.
    """
    if invariance == "none":
        return x
    h, w = x.shape[-2:]
    ss = supersample if invariance == "scale" else 1
    grid = pixel_grid(h * ss, w * ss, x)  # (H*ss, W*ss, 2)
    centre, s = mass_moments(x, grid if ss == 1 else None)
    grid = grid[None]
    c = centre[:, None, None, :]
    if invariance == "translation":
        where = grid + c
    elif invariance == "scale":
        where = c + (grid - c) * (s / spread)[:, None, None, None]
    else:
        raise ValueError(f"unknown invariance {invariance!r}; choose one of {INVARIANCES}")
    view = F.grid_sample(x, where, mode="bilinear", padding_mode="zeros", align_corners=False)
    return F.avg_pool2d(view, ss) if ss > 1 else view


class CanonicalisedEnergy(nn.Module):
    """E(canonicalise(x), cond): the inner energy made invariant to translation or to scale."""

    def __init__(self, inner: nn.Module, invariance: str, spread: float = CANONICAL_SPREAD):
        super().__init__()
        if invariance not in INVARIANCES[1:]:
            raise ValueError(f"unknown invariance {invariance!r}; choose one of {INVARIANCES[1:]}")
        self.inner, self.invariance, self.spread = inner, invariance, spread

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.inner(canonicalise(x, self.invariance, self.spread), cond)
