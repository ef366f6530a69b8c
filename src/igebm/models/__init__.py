"""Energy networks. Any `nn.Module` with `forward(x, cond=None) -> (batch,)` energies plugs in.

`cond` is a LongTensor of class labels, a float tensor of attributes (batch, K),
or None for the unconditional energy.
"""

from igebm.models.build import ARCHS, build_model
from igebm.models.conditioning import ConditionSpec, FiLM, condition_spec, energies_per_class
from igebm.models.mlp import MLPEnergy
from igebm.models.resnet import PRESETS, IGEBMResNet, ResNetSpec

__all__ = ["ARCHS", "ConditionSpec", "FiLM", "IGEBMResNet", "MLPEnergy", "PRESETS", "ResNetSpec", "build_model",
           "condition_spec", "energies_per_class"]
