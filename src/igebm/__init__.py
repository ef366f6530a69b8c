"""igebm: implicit generation and generalization with energy-based models."""

__version__ = "0.1.0"

from igebm.errors import UserError  # noqa: E402

__all__ = ["UserError", "__version__"]
