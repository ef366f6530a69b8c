"""Build the energy network a `[model]` config names, for a dataset's shape and condition."""

from __future__ import annotations

import dataclasses

from torch import nn

from igebm.errors import UserError
from igebm.models.conditioning import ConditionSpec
from igebm.models.mlp import MLPEnergy
from igebm.models.resnet import PRESETS, IGEBMResNet

ARCHS = tuple(PRESETS) + ("mlp", "mlp-traj", "mlp-traj-shift")


def build_model(model_cfg, input_shape: tuple[int, ...], cond: ConditionSpec) -> nn.Module:
    if getattr(model_cfg, "ensemble", 1) > 1:  # N independent energies, summed (models/ensemble.py)
        from igebm.models.ensemble import EnsembleEnergy
        one = dataclasses.replace(model_cfg, ensemble=1)
        return EnsembleEnergy([build_model(one, input_shape, cond) for _ in range(model_cfg.ensemble)])
    if model_cfg.arch == "mlp":
        if len(input_shape) != 1:
            raise UserError(f"arch 'mlp' takes vectors, but the data has shape {input_shape}; use a resnet preset")
        return MLPEnergy(input_shape[0], model_cfg.hidden, model_cfg.depth, cond,
                         model_cfg.activation, model_cfg.spectral_norm)
    if model_cfg.arch in ("mlp-traj", "mlp-traj-shift"):  # next-state energies of trajectories (models/trajectory.py)
        from igebm.models.trajectory import ShiftedTrajectoryEnergy, TrajectoryEnergy
        if len(input_shape) != 1 or cond.kind != "attributes":
            raise UserError(f"arch '{model_cfg.arch}' takes vectors conditioned on a history "
                            "(the particles and hand datasets)")
        cls = TrajectoryEnergy if model_cfg.arch == "mlp-traj" else ShiftedTrajectoryEnergy
        return cls(input_shape[0], cond, model_cfg.hidden, model_cfg.depth, model_cfg.activation)
    if model_cfg.arch not in PRESETS:
        raise UserError(f"unknown model.arch '{model_cfg.arch}' (choose one of {', '.join(ARCHS)})")
    if len(input_shape) != 3:
        raise UserError(f"arch '{model_cfg.arch}' takes images (C, H, W), but the data has shape {input_shape}; "
                        "use arch='mlp'")
    spec = PRESETS[model_cfg.arch]
    if model_cfg.channels:
        spec = dataclasses.replace(spec, base_channels=model_cfg.channels)
    net = IGEBMResNet(input_shape[0], spec, cond, model_cfg.activation, model_cfg.spectral_norm, model_cfg.hidden,
                      coord_channels=model_cfg.coord_channels)
    invariance = getattr(model_cfg, "invariance", "none")
    if invariance == "none":
        return net
    from igebm.models.invariance import CanonicalisedEnergy
    return CanonicalisedEnergy(net, invariance)
