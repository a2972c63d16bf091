"""Bi-temporal augmentation: one geometry for both dates and all labels, photometric draws per date."""
import albumentations as A
import numpy as np
import pytest

from visionssm.changedet.transforms import BiTemporalTransform, build_transform


def _sample(seed=0, size=48):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    gt = (img[..., 0] > 127).astype(np.int64)  # label is a function of the pixel: geometry must agree exactly
    return {"img_from": img, "img_to": img.copy(), "gt": gt, "gt_from": gt * 3, "name": "x"}


@pytest.mark.parametrize("seed", range(4))
def test_geometry_shared_by_images_and_labels(seed):
    t = build_transform(True, crop_size=32, seed=seed, normalize=False)
    for _ in range(5):
        out = t(_sample(seed))
        assert out["img_from"].shape == (32, 32, 3)
        np.testing.assert_array_equal(out["img_from"], out["img_to"])
        np.testing.assert_array_equal(out["gt"], (out["img_from"][..., 0] > 127))
        np.testing.assert_array_equal(out["gt_from"], out["gt"] * 3)


def test_geometry_actually_varies():
    t = build_transform(True, crop_size=None, seed=0, normalize=False)
    s = _sample()
    outs = [t(s)["img_from"] for _ in range(12)]
    assert any(not np.array_equal(o, s["img_from"]) for o in outs)


def test_photometric_differs_per_date_but_labels_follow_geometry():
    t = BiTemporalTransform([A.HorizontalFlip(p=1.0)], [A.ColorJitter(0.5, 0.5, 0.5, 0.1, p=1.0)], normalize=False,
                            seed=3)
    s = _sample()
    out = t(s)
    assert not np.array_equal(out["img_from"], out["img_to"])
    np.testing.assert_array_equal(out["gt"], s["gt"][:, ::-1])


def test_crop_larger_than_image_pads_labels_with_ignore():
    out = build_transform(True, crop_size=64, seed=0, normalize=False)(_sample(size=40))
    assert out["gt"].shape == (64, 64)
    assert (out["gt"] == 255).sum() == 64 * 64 - 40 * 40


def test_normalisation_and_tensor_output():
    out = build_transform(False)(_sample())
    assert tuple(out["img_from"].shape) == (3, 48, 48) and str(out["gt"].dtype) == "torch.int64"
    r = (float(_sample()["img_from"][0, 0, 0]) - 0.485 * 255) / (0.229 * 255)
    assert out["img_from"][0, 0, 0].item() == pytest.approx(r, rel=1e-5)


def test_swap_rejected_for_date_specific_labels():
    t = build_transform(True, crop_size=None, swap_prob=1.0, normalize=False)
    with pytest.raises(ValueError, match="swap_prob"):
        t(_sample())
    s = _sample()
    s["img_to"] = s["img_to"] // 2
    del s["gt_from"]
    out = BiTemporalTransform(swap_prob=1.0, normalize=False)(s)
    np.testing.assert_array_equal(out["img_from"], s["img_to"])


class _Same:
    """The same sample four times."""

    def __init__(self, transform):
        self.transform = transform
        self.sample = _sample(7)

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return self.transform(self.sample)["img_from"]


def test_dataloader_workers_draw_different_augmentations():
    import torch

    t = build_transform(True, crop_size=24, seed=0, normalize=False)
    t(_sample(7))  # used once in the main process before the workers fork
    loader = torch.utils.data.DataLoader(_Same(t), batch_size=1, num_workers=2)
    first_w0, first_w1 = [b[0].numpy() for b in list(loader)[:2]]  # first item of worker 0 and of worker 1
    assert not np.array_equal(first_w0, first_w1)
    again = [b[0].numpy() for b in list(torch.utils.data.DataLoader(_Same(t), batch_size=1, num_workers=2))[:2]]
    np.testing.assert_array_equal(again[0], first_w0)  # reproducible with a seed
