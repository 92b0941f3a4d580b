"""linerate: tooling for the line-rate stateless HTTP test appliance."""

from pathlib import Path

__version__ = "0.1.0"

#: The project root (the Yocto layer is the repository root).
ROOT = Path(__file__).resolve().parent.parent
