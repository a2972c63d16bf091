"""A short training run on a fixed generated batch lowers the loss (pure PyTorch loop, each task)."""
import torch

from visionssm.changedet import (
    SECOND,
    BinaryChangeMeter,
    MambaBCD,
    MambaBDA,
    MambaSCD,
    XBDDataset,
    build_transform,
    collate,
)
from visionssm.changedet.datasets import BinaryChangeDataset

TINY = {"backbone_kwargs": {"depths": (1, 1, 1, 1), "dims": 8}, "channels": 16, "block_kwargs": {"mlp_ratio": 1.0},
            "drop_path": 0.0}


def _fixed_batch(dataset_cls, root, crop=32, **kwargs):
    ds = dataset_cls(root, transform=build_transform(True, crop_size=crop, seed=0), **kwargs)
    return collate([ds[0], ds[1]])


def _train(model, batch, steps, lr=2e-3):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    losses = []
    for _ in range(steps):
        loss, _ = model.train_step_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_bcd_training_lowers_loss_and_learns_the_change(levir_root):
    batch = _fixed_batch(BinaryChangeDataset, levir_root["root"], split="train")
    assert 0 < batch["gt"].float().mean() < 1
    model = MambaBCD(**TINY)
    losses = _train(model, batch, steps=20)
    assert all(b < a for a, b in zip(losses[:5], losses[1:5])), losses  # monotone at first on a fixed batch
    assert losses[-1] < 0.3 * losses[0], losses
    model.eval()
    with torch.no_grad():
        meter = BinaryChangeMeter()
        meter.update(model.predict(model(batch["img_from"], batch["img_to"]))["change"], batch["gt"])
    assert meter.compute()["f1"] > 0.8, meter.compute()  # measured 0.96 after 20 steps


def test_scd_training_lowers_loss(second_root):
    batch = _fixed_batch(SECOND, second_root["root"], crop=16)  # three decoders: keep it small
    losses = _train(MambaSCD(**TINY), batch, steps=3)
    assert losses[-1] < 0.9 * losses[0], losses


def test_bda_training_lowers_loss(xbd_root):
    batch = _fixed_batch(XBDDataset, xbd_root["root"], crop=16)
    losses = _train(MambaBDA(**TINY), batch, steps=3)
    assert losses[-1] < 0.9 * losses[0], losses
