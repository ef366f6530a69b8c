"""igebm: implicit generation and generalization with energy-based models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("igebm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from igebm.errors import UserError  # noqa: E402

__all__ = ["UserError", "__version__"]
