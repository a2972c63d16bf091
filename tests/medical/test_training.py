"""A short pure-PyTorch training run lowers the loss on a fixed batch (2D VM-UNet, MHS-VM, 3D LightM-UNet)."""
import pytest
import torch

from visionssm.medical import BceDiceLoss, CeDiceLoss, ISICDataset, NnUNetRawDataset, create_medical_model
from visionssm.medical.models import SMALL_TEST_CONFIGS


def _fit(model, loss_fn, x, y, steps, lr):
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", ["vm_unet", "mhs_vm_unet"])
def test_2d_loss_decreases(name, isic_root):
    batch = torch.utils.data.default_collate([ISICDataset(isic_root, "train", size=32, augment=False)[i]
                                              for i in range(2)])
    model = create_medical_model(name, num_classes=1, drop_path_rate=0.0, **SMALL_TEST_CONFIGS[name])
    losses = _fit(model, BceDiceLoss(), batch["inputs"] / 255.0, batch["data_samples"]["label"], 6, 1e-2)
    assert losses[-1] < 0.9 * losses[0], losses


def test_3d_loss_decreases(nnunet_root):
    ds = NnUNetRawDataset(nnunet_root, patch_size=(8, 8, 8), augment=False)
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    model = create_medical_model("lightm_unet_3d", num_classes=3, **SMALL_TEST_CONFIGS["lightm_unet_3d"])
    losses = _fit(model, CeDiceLoss(3, include_background=False, dice_square=False), batch["inputs"],
                  batch["data_samples"]["label"], 6, 1e-2)
    assert losses[-1] < 0.9 * losses[0], losses
