"""The `[model]` section: the energy network and how it is conditioned."""

from __future__ import annotations

from dataclasses import dataclass

from igebm.errors import UserError

ACTIVATIONS = ("leaky_relu", "swish")
CONDITIONS = ("auto", "label", "attributes")


@dataclass
class ModelConfig:
    arch: str = "resnet-digits"  # preset name, see igebm.models.PRESETS, or mlp
    conditional: bool = True
    condition: str = "auto"  # label | attributes | auto (the dataset's label if it has one, else its attributes)
    channels: int = 0  # 0 = the preset's own
    activation: str = "leaky_relu"  # leaky_relu | swish
    spectral_norm: bool = True
    hidden: int = 128  # MLP width, and the width of the attribute encoder
    depth: int = 3  # MLP layers
    ensemble: int = 1  # N > 1: N independent energies of this architecture, summed
    coord_channels: bool = False  # resnets: add x and y coordinate maps to the input (position conditions)
    invariance: str = "none"  # resnets: none | translation | scale (canonicalise the input, models/invariance.py)

    def validate(self) -> None:
        from igebm.models.build import ARCHS
        from igebm.models.invariance import INVARIANCES
        from igebm.models.resnet import PRESETS

        if self.arch not in ARCHS:
            raise UserError(f"config key 'model.arch' is {self.arch!r}; choose one of {list(ARCHS)}")
        if self.activation not in ACTIVATIONS:
            raise UserError(f"config key 'model.activation' is {self.activation!r}; choose one of {list(ACTIVATIONS)}")
        if self.condition not in CONDITIONS:
            raise UserError(f"config key 'model.condition' is {self.condition!r}; choose one of {list(CONDITIONS)}")
        if self.invariance not in INVARIANCES:
            raise UserError(f"config key 'model.invariance' is {self.invariance!r}; choose one of {list(INVARIANCES)}")
        if self.invariance != "none" and self.arch not in PRESETS:
            raise UserError(f"config key 'model.invariance' = {self.invariance!r} needs an image energy (a resnet "
                            f"preset), but model.arch is {self.arch!r}; set model.invariance = \"none\"")
        for key in ("channels",):
            if getattr(self, key) < 0:
                raise UserError(f"config key 'model.{key}' must be 0 (the preset's) or positive, got {getattr(self, key)}")
        for key in ("hidden", "depth", "ensemble"):
            if getattr(self, key) < 1:
                raise UserError(f"config key 'model.{key}' must be positive, got {getattr(self, key)}")
