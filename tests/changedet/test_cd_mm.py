"""Change detection through mmengine: a real configs/change_detection config, shrunk, trained with tools/train.py's
code on a fixed generated batch (loss decreases), then evaluated with tools/test.py's code."""
import json
import math
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.mm
pytest.importorskip("mmengine")

ROOT = Path(__file__).resolve().parents[2]
BCD_CFG = ROOT / "configs" / "change_detection" / "mambabcd-tiny_1xb16-20k_sysu-cd-256x256.py"
TINY_MODEL = ("dict(backbone='vmamba_tiny_s1l8', backbone_kwargs=dict(depths=(1, 1, 1, 1), dims=8), channels=16, "
              "block_kwargs=dict(mlp_ratio=1.0), drop_path=0.0, init_cfg=None)")


def _child_config(path: Path, data_root: Path, list_file: Path, work_dir: Path, max_iters: int) -> Path:
    path.write_text(f"""_base_ = [{str(BCD_CFG)!r}]
model = {TINY_MODEL}
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        sampler=dict(type='InfiniteSampler', shuffle=False),
                        dataset=dict(data_root={str(data_root)!r}, ann_file={str(list_file)!r}, augment=None))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(data_root={str(data_root)!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters})
optim_wrapper = dict(optimizer=dict(lr=2e-3))
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval={max_iters}, save_best=None))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
work_dir = {str(work_dir)!r}
""")
    return path


def _scalars(work_dir: Path):
    run = sorted(work_dir.glob("*/vis_data/scalars.json"))[-1]
    return [json.loads(line) for line in run.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_train_and_test_with_tools(levir_small, tmp_path):
    from visionssm.cli.test import main as test_main
    from visionssm.cli.train import main as train_main

    lst = tmp_path / "fixed.txt"
    lst.write_text("train_0\ntrain_1\n")  # two pairs, batch 2, no shuffle, no augmentation: one fixed batch
    wd = tmp_path / "work"
    cfg = _child_config(tmp_path / "bcd.py", levir_small["root"], lst, wd, max_iters=4)
    train_main([str(cfg)])
    rows = _scalars(wd)
    losses = [r["loss"] for r in rows if "loss" in r]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0], losses
    val = [r for r in rows if "cd/f1" in r]
    assert val and 0.0 <= val[-1]["cd/f1"] <= 100.0 and 0.0 <= val[-1]["cd/oa"] <= 100.0
    ckpt = wd / "iter_4.pth"
    assert torch.load(ckpt, map_location="cpu", weights_only=True)["meta"]["iter"] == 4
    metrics = test_main([str(cfg), str(ckpt), "--work-dir", str(tmp_path / "test")])
    assert set(metrics) >= {"cd/precision", "cd/recall", "cd/f1", "cd/iou", "cd/oa", "cd/kappa"}
    assert 0.0 < metrics["cd/oa"] <= 100.0

    # the trained checkpoint drives folder inference (what tools/infer.py wires up)
    from visionssm.changedet import infer_folder, model_from_config

    model = model_from_config(cfg, ckpt)
    test_dir = levir_small["root"] / "test"
    report = infer_folder(model, test_dir / "A", test_dir / "B", tmp_path / "pred", progress=False)
    assert report.num_predicted == 2 and not report.failures


def test_pretrained_init_cfg_loads_encoder_on_init_weights(tmp_path):
    import timm

    from visionssm.changedet.mm import ChangeDetector

    kwargs = {"depths": (1, 1, 1, 1), "dims": 8}
    classifier = timm.create_model("vmamba_tiny_s1l8", **kwargs)
    torch.save({"model": classifier.state_dict()}, tmp_path / "in1k.pth")
    det = ChangeDetector(arch="mamba_bcd", backbone_kwargs=kwargs, channels=8,
                         init_cfg={"type": "Pretrained", "checkpoint": str(tmp_path / "in1k.pth")})
    stem = det.model.encoder.backbone.stem.conv1.weight
    assert not torch.equal(stem, classifier.stem.conv1.weight)  # nothing fetched at construction (tools/test.py)
    det.init_weights()
    assert torch.equal(stem, classifier.stem.conv1.weight)


def test_metric_wrapper_hand_computed():
    from visionssm.changedet.mm import ChangeDetectionMetric

    metric = ChangeDetectionMetric(task="bcd")
    gt = torch.tensor([[0, 0, 0, 0, 0], [0, 1, 1, 1, 1]])
    pred = torch.tensor([[0, 0, 0, 0, 1], [1, 1, 1, 1, 0]])
    metric.process({}, [{"pred_change": pred[:1], "gt": gt[:1]}, {"pred_change": pred[1:], "gt": gt[1:]}])
    out = metric.compute_metrics(metric.results)
    # TN=4 FP=2 FN=1 TP=3 (as test_metrics): F1 2/3, IoU 1/2, Kappa 0.4 → percent
    assert out["f1"] == pytest.approx(200 / 3) and out["iou"] == pytest.approx(50.0) and out["kappa"] == pytest.approx(40.0)


@pytest.mark.parametrize("task, arch", [("scd", "mamba_scd"), ("bda", "mamba_bda")])
def test_semantic_and_damage_models_through_the_mm_wrapper(task, arch, second_root, xbd_root):
    from mmengine.dataset import pseudo_collate

    from visionssm.changedet.mm import ChangeDetectionDataset, ChangeDetectionMetric, ChangeDetector

    root = second_root["root"] if task == "scd" else xbd_root["root"]
    ds = ChangeDetectionDataset(str(root), task=task, augment={"crop_size": 32, "seed": 0})
    model = ChangeDetector(arch=arch, backbone_kwargs={"depths": (1, 1, 1, 1), "dims": 8}, channels=8,
                           block_kwargs={"mlp_ratio": 1.0})
    batch = pseudo_collate([ds[0], ds[1]])
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode="loss")
    assert all(torch.isfinite(v) for v in losses.values()) and any(k.startswith("loss") for k in losses)
    model.eval()
    results = model.val_step(batch)
    metric = ChangeDetectionMetric(task=task)
    metric.dataset_meta = ds.metainfo
    metric.process(batch, results)
    scores = metric.compute_metrics(metric.results)
    key = "sek" if task == "scd" else "f1_oa"
    assert key in scores and math.isfinite(scores[key])
