"""Medical segmentation U-Nets on visionssm layers: VM-UNet, MHS-VM, LightM-UNet (2D/3D), with data readers,
losses, metrics and inference. Importing this package needs neither mmengine nor nibabel/h5py (they are
imported where used); the mmengine glue is :mod:`visionssm.medical.mm`.
"""
from .complexity import ModelComplexity, count_flops, count_params
from .datasets import ISICDataset, NnUNetRawDataset, SynapseDataset
from .infer import InferenceReport, logits_to_labels, predict_slices, sliding_window_inference, write_masks
from .io import UnreadableFileError
from .lightm_unet import LightMUNet
from .losses import BceDiceLoss, CeDiceLoss, build_loss
from .metrics import SegMetricAccumulator, confusion_counts, hd95
from .mhs_vm import MHSBlock, MHSMixer
from .models import create_medical_model, list_medical_models, register_medical_model
from .vm_unet import VMUNet

__all__ = ["BceDiceLoss", "CeDiceLoss", "ISICDataset", "InferenceReport", "LightMUNet", "MHSBlock", "MHSMixer",
           "ModelComplexity", "NnUNetRawDataset", "SegMetricAccumulator", "SynapseDataset", "UnreadableFileError",
           "VMUNet", "build_loss", "confusion_counts", "count_flops", "count_params", "create_medical_model", "hd95",
           "list_medical_models", "logits_to_labels", "predict_slices", "register_medical_model",
           "sliding_window_inference", "write_masks"]
