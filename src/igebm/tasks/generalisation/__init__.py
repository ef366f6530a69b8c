"""Generalisation: OOD scores by energy, and classification by lowest energy."""

from igebm.tasks.generalisation.classify import EnergyClassifier, project_l2
from igebm.tasks.generalisation.ood import SCORES, energy_score, resolve_score

__all__ = ["EnergyClassifier", "SCORES", "energy_score", "project_l2", "resolve_score"]
