"""Small datasets that ship inside PyPI packages, exported to the folder layouts our configs read."""
from .digits import export_digits

__all__ = ["export_digits"]
