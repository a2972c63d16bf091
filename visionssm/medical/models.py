"""Named medical segmentation models: ``create_medical_model(name, **kwargs)``, ``list_medical_models()``.

These are not timm classifiers (no pooled head, no ``num_classes`` semantics of timm), so they live in their own
small registry; the mmengine glue (:mod:`visionssm.medical.mm`) builds them by name from configs.
"""
from typing import Callable, Dict, List

from torch import nn

from .lightm_unet import LightMUNet
from .mhs_vm import mhs_block_factory
from .vm_unet import VMUNet

__all__ = ["create_medical_model", "list_medical_models", "register_medical_model", "SMALL_TEST_CONFIGS",
           "PUBLISHED_PARAMS"]

_MODELS: Dict[str, Callable[..., nn.Module]] = {}


def register_medical_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if fn.__name__ in _MODELS:
        raise ValueError(f"medical model {fn.__name__!r} is already registered")
    _MODELS[fn.__name__] = fn
    return fn


def list_medical_models() -> List[str]:
    return sorted(_MODELS)


def create_medical_model(name: str, **kwargs) -> nn.Module:
    if name not in _MODELS:
        raise KeyError(f"unknown medical model {name!r}; available: {', '.join(list_medical_models())}")
    return _MODELS[name](**kwargs)


@register_medical_model
def vm_unet(**kwargs) -> VMUNet:
    """VM-UNet (released recipe: depths [2,2,2,2], decoder [2,2,2,1], dims 96, VMamba-v0 SS2D, cross scan).

    ``scan=`` swaps the scan (any registered strategy); other kwargs go to :class:`VMUNet` / the VSS blocks.
    """
    cfg = {"depths": (2, 2, 2, 2), "depths_decoder": (2, 2, 2, 1), "dims": 96, "drop_path_rate": 0.2}
    cfg.update(kwargs)
    return VMUNet(**cfg)


@register_medical_model
def mhs_vm_unet(heads=4, gfu_t: float = 0.0, d_state: int = 16, with_proj: bool = True, backend: str = "auto",
                **kwargs) -> VMUNet:
    """MHS-VM: VM-UNet whose blocks use the multi-head scan module (released: 4 heads, gfu_t 0.5 ISIC18 / 0 ISIC17)."""
    cfg = {"depths": (2, 2, 2, 2), "depths_decoder": (2, 2, 2, 1), "dims": 96, "drop_path_rate": 0.2}
    cfg.update(kwargs)
    block_fn = mhs_block_factory(heads=heads, gfu_t=gfu_t, d_state=d_state, with_proj=with_proj, backend=backend)
    return VMUNet(block_fn=block_fn, **cfg)


@register_medical_model
def lightm_unet(**kwargs) -> LightMUNet:
    """LightM-UNet as its nnU-Net trainer builds it (init_filters 32, blocks (1,2,2,4)/(1,1,1)); 3D by default."""
    return LightMUNet(**kwargs)


@register_medical_model
def lightm_unet_2d(**kwargs) -> LightMUNet:
    """LightM-UNet for 2D images (released 2D setting: Montgomery & Shenzhen chest X-ray, 3 input channels)."""
    cfg = {"spatial_dims": 2, "in_chans": 3}
    cfg.update(kwargs)
    return LightMUNet(**cfg)


@register_medical_model
def lightm_unet_3d(**kwargs) -> LightMUNet:
    """LightM-UNet for 3D volumes (released 3D setting: LiTS CT, 1 input channel)."""
    cfg = {"spatial_dims": 3, "in_chans": 1}
    cfg.update(kwargs)
    return LightMUNet(**cfg)


# shrunk sizes that keep each architecture (used by the tests)
SMALL_TEST_CONFIGS = {
    "vm_unet": {"depths": (1, 1, 1, 1), "depths_decoder": (1, 1, 1, 1), "dims": 8, "d_state": 4},
    "mhs_vm_unet": {"depths": (1, 1, 1, 1), "depths_decoder": (1, 1, 1, 1), "dims": 8, "d_state": 4},
    "lightm_unet": {"init_filters": 8, "blocks_down": (1, 1, 1), "blocks_up": (1, 1), "d_state": 4},
    "lightm_unet_2d": {"init_filters": 8, "blocks_down": (1, 1, 1), "blocks_up": (1, 1), "d_state": 4},
    "lightm_unet_3d": {"init_filters": 8, "blocks_down": (1, 1, 1), "blocks_up": (1, 1), "d_state": 4},
}

# Published parameter counts in millions, where the authors state one. LightM-UNet's "1.09M" (paper, 2D) is
# disputed in MrBlankness/LightM-UNet#30 and #6; ``complexity.count_params`` gives what the released code has.
PUBLISHED_PARAMS = {
    "lightm_unet_2d": 1.09,
}
