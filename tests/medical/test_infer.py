"""Sliding-window / slice-wise inference and mask writing."""
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from visionssm.medical import predict_slices, sliding_window_inference, write_masks
from visionssm.medical.io import read_nifti


class PointwiseNet(torch.nn.Module):
    """A 1x1 conv: its output does not depend on the window, so any tiling must reproduce the full forward."""

    def __init__(self, dims=3, in_ch=1, out_ch=2):
        super().__init__()
        conv = torch.nn.Conv3d if dims == 3 else torch.nn.Conv2d
        self.conv = conv(in_ch, out_ch, 1)

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("mode", ["gaussian", "constant"])
def test_sliding_window_equals_full_forward(mode):
    net = PointwiseNet(3)
    x = torch.randn(2, 1, 10, 12, 7)
    out = sliding_window_inference(x, (4, 5, 8), net, overlap=0.5, mode=mode, sw_batch_size=3)
    torch.testing.assert_close(out, net(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="spatial dims"):
        sliding_window_inference(x, (4, 4), net)


def test_predict_slices_matches_per_slice_forward():
    net = PointwiseNet(2, 1, 3)
    vol = torch.randn(1, 1, 5, 8, 8)
    out = predict_slices(vol, net, batch_size=2)
    ref = torch.stack([net(vol[:, :, d]) for d in range(5)], dim=2)
    torch.testing.assert_close(out, ref)
    assert predict_slices(vol, net, size=16).shape == (1, 3, 5, 8, 8)


def test_write_masks_2d_and_3d(isic_root, nnunet_root, tmp_path):
    net2d = PointwiseNet(2, 3, 1)
    with torch.no_grad():
        net2d.conv.weight.fill_(1.0)
        net2d.conv.bias.fill_(-300.0)  # fg where the (0..255 scaled) channel sum is > 300
    src = tmp_path / "images"  # a copy: the fixture folder is shared by the session
    shutil.copytree(isic_root / "val" / "images", src)
    images = sorted(src.glob("*.png"))
    broken = src / "broken.png"
    broken.write_bytes(b"not a png")
    out = tmp_path / "out"
    report = write_masks(net2d, [*images, broken, src / "missing.png"], out, image_size=32, root=src)
    assert sorted(p.name for p in (out / "masks").iterdir()) == sorted(p.name for p in images)
    assert sorted(p.name for p in (out / "overlays").iterdir()) == sorted(p.name for p in images)
    assert [s[0] for s in report.failures] == [str(broken), str(src / "missing.png")]
    mask = np.asarray(Image.open(out / "masks" / images[0].name))
    assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 255}
    assert np.asarray(Image.open(out / "overlays" / images[0].name)).shape == (32, 32, 3)
    # never overwrite silently
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_masks(net2d, images, out, root=src)
    assert len(write_masks(net2d, images, out, overwrite=True, root=src).written) == 2 * len(images) + 1

    net3d = PointwiseNet(3, 1, 3)
    vols = sorted((nnunet_root / "imagesTr").glob("*.nii.gz"))[:2]
    out3 = tmp_path / "out3d"
    report = write_masks(net3d, vols, out3, roi_size=(8, 8, 8))
    assert sorted(p.name for p in (out3 / "masks").iterdir()) == ["blob_000.nii.gz", "blob_001.nii.gz"]
    pred, affine = read_nifti(out3 / "masks" / "blob_000.nii.gz")
    src, src_affine = read_nifti(vols[0])
    assert pred.shape == src.shape and np.allclose(affine, src_affine) and set(np.unique(pred)) <= {0, 1, 2}
