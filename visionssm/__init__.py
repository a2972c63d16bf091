"""visionssm: vision state-space-model backbones, scan strategies and dense-prediction models.

The selective-scan op lives in the repository's top-level ``kernels/`` folder and is installed as
``visionssm.kernels`` (``from visionssm.kernels import selective_scan``).
"""
from . import _source_checkout

__version__ = "0.1.0"

_source_checkout.install()

from . import models  # noqa: E402,F401  (registers the backbones with timm)
