"""Baselines the EBM is compared against: classifiers, densities, completions."""
