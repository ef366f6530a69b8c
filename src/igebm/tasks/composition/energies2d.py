"""Analytic 2-D energies by name, and exact samples of any 2-D energy on a fine grid.

Names (parameters after a colon, comma-separated, all optional):
- `gaussian[:MX,MY[,STD]]`: |x - m|^2 / (2 std^2), default (0, 0), std 0.5;
- `ring[:R[,WIDTH]]`: (|x| - R)^2 / (2 width^2), default R 2, width 0.25;
- `halfplane[:NX,NY[,OFFSET[,SHARPNESS]]]`: softplus(sharpness (offset - n.x)): low where n.x > offset,
  default n = (1, 0), offset 0, sharpness 4.

`exact_samples` draws from exp(-E) restricted to a box by inverse-CDF on a grid of
cells, then uniformly inside the chosen cell: exact up to the cell size (0.01 by
default), for any energy, composites included. It is the oracle the MMD numbers
compare with.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from igebm.errors import UserError
from igebm.models.algebra import Composable


class Gaussian2D(Composable):
    def __init__(self, mx: float = 0.0, my: float = 0.0, std: float = 0.5):
        super().__init__()
        if std <= 0:
            raise UserError(f"gaussian: std must be positive, got {std}")
        self.register_buffer("mean", torch.tensor([mx, my], dtype=torch.float32))
        self.std = float(std)
        self.label = f"gaussian({mx:g},{my:g}; std {std:g})"

    def forward(self, x, cond=None):
        return ((x - self.mean) ** 2).sum(-1) / (2 * self.std ** 2)


class Ring2D(Composable):
    def __init__(self, radius: float = 2.0, width: float = 0.25):
        super().__init__()
        if radius < 0 or width <= 0:
            raise UserError(f"ring: radius must be >= 0 and width positive, got {radius}, {width}")
        self.radius, self.width = float(radius), float(width)
        self.label = f"ring(r {radius:g}, width {width:g})"

    def forward(self, x, cond=None):
        r = torch.sqrt((x ** 2).sum(-1) + 1e-12)
        return (r - self.radius) ** 2 / (2 * self.width ** 2)


class HalfPlane2D(Composable):
    def __init__(self, nx: float = 1.0, ny: float = 0.0, offset: float = 0.0, sharpness: float = 4.0):
        super().__init__()
        norm = float(np.hypot(nx, ny))
        if norm == 0 or sharpness <= 0:
            raise UserError("halfplane: the normal must be non-zero and the sharpness positive")
        self.register_buffer("normal", torch.tensor([nx / norm, ny / norm], dtype=torch.float32))
        self.offset, self.sharpness = float(offset), float(sharpness)
        self.label = f"halfplane(n ({nx:g},{ny:g}), n.x > {offset:g})"

    def forward(self, x, cond=None):
        return F.softplus(self.sharpness * (self.offset - x @ self.normal))


ANALYTIC = {"gaussian": (Gaussian2D, 3), "ring": (Ring2D, 2), "halfplane": (HalfPlane2D, 4)}


def analytic_energy(spec: str) -> Composable:
    """An analytic energy from its name, e.g. 'gaussian:1,0,0.5', 'ring:2', 'halfplane:0,1'."""
    name, _, params = spec.partition(":")
    if name not in ANALYTIC:
        raise UserError(f"unknown analytic energy '{name}' (choose one of {', '.join(ANALYTIC)}, "
                        "or give a trained 2-D run directory)")
    cls, most = ANALYTIC[name]
    try:
        values = [float(v) for v in params.split(",")] if params else []
    except ValueError:
        raise UserError(f"energy '{spec}': parameters must be numbers separated by commas") from None
    if len(values) > most or not all(np.isfinite(values)):
        raise UserError(f"energy '{spec}': {name} takes at most {most} finite numbers")
    return cls(*values)


def grid_energy(energy, box: float = 4.0, cells: int = 800):
    """(xs, ys, E) on a cells x cells grid of cell centres over [-box, box]^2; E is (cells, cells), row = y."""
    edges = np.linspace(-box, box, cells + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    gx, gy = np.meshgrid(centres, centres)
    pts = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))
    with torch.no_grad():
        e = torch.cat([energy(pts[i:i + 65536]) for i in range(0, len(pts), 65536)]).numpy()
    return centres, centres, e.reshape(cells, cells).astype(np.float64)


def exact_samples(energy, n: int, rng: np.random.Generator, box: float = 4.0, cells: int = 800) -> np.ndarray:
    """n samples (n, 2) float32 of exp(-E) on [-box, box]^2, exact up to the grid's cell size."""
    _, _, e = grid_energy(energy, box, cells)
    logp = -e.ravel()
    p = np.exp(logp - logp.max())
    p /= p.sum()
    idx = rng.choice(len(p), size=n, p=p)
    h = 2 * box / cells
    iy, ix = np.divmod(idx, cells)
    pts = np.stack([-box + (ix + rng.uniform(size=n)) * h, -box + (iy + rng.uniform(size=n)) * h], 1)
    return pts.astype(np.float32)
