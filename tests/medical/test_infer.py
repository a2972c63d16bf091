"""Sliding-window / slice-wise inference and mask writing."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionssm.medical import predict_slices, sliding_window_inference, write_masks
from visionssm.medical.infer import group_cases
from visionssm.medical.io import read_nifti, write_nifti

ROOT = Path(__file__).resolve().parents[2]


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


class Needs32(PointwiseNet):
    """Like VM-UNet: refuses inputs whose sides are not multiples of 32."""

    def forward(self, x):
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError(f"input {tuple(x.shape[-2:])} is not a multiple of 32")
        return super().forward(x)


def _rgb(path: Path, h: int, w: int, seed: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)).save(path)


def test_2d_any_size_and_no_collisions(tmp_path):
    src = tmp_path / "in"
    sizes = {"a.png": (50, 70), "a.jpg": (33, 45), "sub1/case.png": (64, 40), "sub2/case.png": (31, 97)}
    for i, (rel, hw) in enumerate(sizes.items()):
        _rgb(src / rel, *hw, seed=i)
    out = tmp_path / "out"
    report = write_masks(Needs32(2, 3, 1), [str(src / r) for r in sizes], out)  # zero-padded to 32
    assert report.num_predicted == 4 and not report.failures
    got = {p.relative_to(out / "masks").as_posix(): Image.open(p).size[::-1] for p in (out / "masks").rglob("*.png")}
    assert got == {"a.png": (33, 45), "a_png.png": (50, 70), "sub1/case.png": (64, 40), "sub2/case.png": (31, 97)}
    assert len(list((out / "overlays").rglob("*.png"))) == 4
    data = json.loads((out / "predictions.json").read_text())
    assert [p["path"] for p in data["predictions"]] == sorted(sizes)


def test_channel_files_are_one_case(tmp_path):
    src = tmp_path / "imagesTs"
    src.mkdir()
    rng = np.random.default_rng(0)
    ch1 = rng.random((6, 8, 8)).astype(np.float32)
    write_nifti(rng.random((6, 8, 8)), src / "two_0000.nii.gz", dtype=np.float32)
    write_nifti(ch1, src / "two_0001.nii.gz", dtype=np.float32)
    write_nifti(rng.random((6, 8, 8)), src / "one_0000.nii.gz", dtype=np.float32)
    files = sorted(src.iterdir())
    assert group_cases(files, src) == [("one.nii.gz", [str(src / "one_0000.nii.gz")]),
                                       ("two.nii.gz", [str(src / "two_0000.nii.gz"), str(src / "two_0001.nii.gz")])]
    net = PointwiseNet(3, 2, 2)
    with torch.no_grad():  # class 1 where channel 1 is above its mean: the model must see the second channel
        net.conv.weight.zero_()
        net.conv.bias.zero_()
        net.conv.weight[1, 1] = 1.0
    out = tmp_path / "out"
    report = write_masks(net, files, out, root=src, in_channels=2)
    assert report.num_predicted == 1 and [p for p, _ in report.failures] == [str(src / "one_0000.nii.gz")]
    assert "1 channel file(s) but the model takes 2" in report.failures[0][1]
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["two.nii.gz"]
    pred, _ = read_nifti(out / "masks" / "two.nii.gz")
    np.testing.assert_array_equal(pred, (ch1 > ch1.mean()).astype(np.uint8))


def test_interrupted_folder_resumes(tmp_path):
    src = tmp_path / "in"
    for i in range(4):
        _rgb(src / f"im{i}.png", 32, 32, seed=i)
    files = sorted(str(p) for p in src.iterdir())
    net, calls = PointwiseNet(2, 3, 1), []

    def predict(x):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return net(x)

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        write_masks(predict, files, out, root=src)
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["im0.png", "im1.png"]
    assert not (out / "predictions.json").exists()
    report = write_masks(net, files, out, root=src, resume=True)
    assert (report.num_resumed, report.num_predicted) == (2, 2)
    assert len(json.loads((out / "predictions.json").read_text())["predictions"]) == 4


@pytest.mark.mm
def test_settings_follow_the_config_test_pipeline():
    pytest.importorskip("mmengine")
    from mmengine.config import Config

    from visionssm.medical.infer import settings_from_config

    isic = settings_from_config(Config.fromfile(str(ROOT / "configs/medical/vm-unet_isic17-256x256.py")))
    assert (isic["image_size"], isic["normalize"], isic.get("roi_size")) == (256, "minmax", None)
    xray = settings_from_config(Config.fromfile(str(ROOT / "configs/medical/lightm-unet-2d_xray.py")))
    assert (xray["roi_size"], xray["normalize"], xray["in_channels"]) == ((512, 512), "zscore", 3)
    lits = settings_from_config(Config.fromfile(str(ROOT / "configs/medical/lightm-unet-3d_lits.py")))
    assert lits["roi_size"] == (128, 128, 128)
    synapse = settings_from_config(Config.fromfile(str(ROOT / "configs/medical/vm-unet_synapse-224x224.py")))
    assert synapse["slices_size"] == 224


@pytest.mark.mm
@pytest.mark.slow
def test_cli_medical_photo_sizes(tmp_path, capsys):
    """``visionssm infer photos/ --config <ISIC config>``: odd-sized photos run at the config's test size."""
    pytest.importorskip("mmengine")
    import visionssm.medical.mm  # noqa: F401
    from visionssm.cli.infer import main
    from visionssm.mm.registry import MODELS

    tiny = {"depths": (1, 1, 1, 1), "depths_decoder": (1, 1, 1, 1), "dims": 8, "d_state": 4}
    cfg = tmp_path / "isic_tiny.py"
    cfg.write_text(f"_base_ = [{str(ROOT / 'configs/medical/vm-unet_isic17-256x256.py')!r}]\n"
                   f"model = dict(model=dict(**{tiny!r}, drop_path_rate=0.0), pretrained=None)\n"
                   "test_dataloader = dict(dataset=dict(size=64))\n")
    from mmengine.config import Config

    model = MODELS.build(dict(Config.fromfile(str(cfg)).model))
    torch.save({"state_dict": model.state_dict()}, tmp_path / "med.pth")
    src = tmp_path / "photos"
    _rgb(src / "lesion.jpg", 75, 100)
    _rgb(src / "lesion.png", 61, 47, seed=1)
    (src / "bad.png").write_bytes(b"broken")
    out = tmp_path / "out"
    report = main([str(src), "--config", str(cfg), "--checkpoint", str(tmp_path / "med.pth"),
                   "--out-dir", str(out), "--device", "cpu", "--no-progress"])
    assert report.num_predicted == 2 and [Path(p).name for p, _ in report.failures] == ["bad.png"]
    assert Image.open(out / "masks" / "lesion.png").size == (100, 75)  # lesion.jpg, at its own size
    assert Image.open(out / "masks" / "lesion_png.png").size == (47, 61)
    assert "2/3 image(s) predicted" in capsys.readouterr().out
