"""Composition: products of experts over concepts, mixtures, negation, and 2-D energy flows.

Pure functions over trained runs and analytic energies (no argparse, no files):
- `compose.py`: experts from runs (one, or a seed ensemble), the AND/OR/NOT composite, sampling it (summed or alternating);
- `energies2d.py`: analytic 2-D energies by name and exact (grid) samples of any 2-D energy;
- `flow.py`: Langevin trajectories from a grid of starts, for the energy-flow picture.
"""

from igebm.tasks.composition.compose import (ATTRIBUTE_ORDER, OPS, build_composite, calibrate_offsets,
                                             expert_from_run, expert_from_runs, part_log_masses, requested_attributes,
                                             sample_composite, sample_mixture)
from igebm.tasks.composition.energies2d import ANALYTIC, analytic_energy, exact_samples
from igebm.tasks.composition.flow import flow_trajectories

__all__ = ["ANALYTIC", "ATTRIBUTE_ORDER", "OPS", "analytic_energy", "build_composite", "calibrate_offsets",
           "exact_samples", "expert_from_run", "expert_from_runs", "flow_trajectories", "part_log_masses",
           "requested_attributes", "sample_composite", "sample_mixture"]
