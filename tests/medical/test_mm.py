"""mmengine glue: registry builds, model modes, and one tiny run of tools/train.py with a configs/medical config."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmengine")

ROOT = Path(__file__).resolve().parents[2]
TINY = {"depths": (1, 1, 1, 1), "depths_decoder": (1, 1, 1, 1), "dims": 8, "d_state": 4}


@pytest.mark.mm
def test_registry_and_modes(isic_root):
    import visionssm.medical.mm  # noqa: F401
    from visionssm.mm.registry import DATASETS, METRICS, MODELS

    model = MODELS.build({"type": "visionssm.MedSegModel", "model": dict(name="vm_unet", num_classes=1, **TINY),
                              "loss": {"type": "bce_dice"}})
    ds = DATASETS.build({"type": "visionssm.ISICDataset", "data_root": str(isic_root), "split": "val", "size": 32})
    from mmengine.dataset import pseudo_collate
    data = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    assert data["inputs"].shape == (2, 3, 32, 32) and data["labels"].shape == (2, 32, 32)
    assert model(**data, mode="tensor").shape == (2, 1, 32, 32)
    assert model(**data, mode="loss")["loss"].ndim == 0
    preds = model(**data, mode="predict")
    metric = METRICS.build({"type": "visionssm.MedSegMetric", "num_classes": 2})
    metric.process(None, preds)
    res = metric.compute_metrics(metric.results)
    assert 0.0 <= res["mDice"] <= 1.0 and "pooled_IoU" in res and "mHD95" in res


@pytest.mark.slow
@pytest.mark.mm
def test_tools_train_tiny_run(isic_root, tmp_path):
    work = tmp_path / "work"
    cfg = tmp_path / "tiny_vm_unet_isic.py"
    base = ROOT / "configs" / "medical" / "vm-unet_isic18-256x256.py"
    loader = "batch_size=2, num_workers=0, persistent_workers=False"
    cfg.write_text(f"""_base_ = [{str(base)!r}]
data_root = {str(isic_root) + '/'!r}
model = dict(model=dict(**{TINY!r}, drop_path_rate=0.0), pretrained=None)
train_dataloader = dict({loader}, dataset=dict(data_root=data_root, size=32))
val_dataloader = dict({loader}, dataset=dict(data_root=data_root, size=32))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
work_dir = {str(work)!r}
""")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), str(cfg)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    logs = list(work.glob("*/vis_data/scalars.json"))
    assert logs, f"no scalars log in {work}"
    records = [json.loads(line) for line in logs[0].read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    vals = [r for r in records if "medseg/mDice" in r]
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    assert len(vals) == 2 and 0.0 <= vals[-1]["medseg/mDice"] <= 1.0
    assert (work / "epoch_2.pth").is_file()


@pytest.mark.mm
@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "medical").glob("*.py")), ids=lambda p: p.name)
def test_configs_parse(path):
    from mmengine.config import Config

    import visionssm.medical.mm  # noqa: F401
    from visionssm.medical import list_medical_models
    from visionssm.mm.registry import DATASETS, METRICS

    cfg = Config.fromfile(str(path))
    assert cfg.model.type == "visionssm.MedSegModel" and cfg.model.model.name in list_medical_models()
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert DATASETS.get(loader.dataset.type) is not None
    assert METRICS.get(cfg.val_evaluator.type) is not None


@pytest.mark.slow
def test_import_without_mmengine():
    code = ("import sys; import visionssm.medical; "
            "assert not any(m.split('.')[0] in ('mmengine', 'mmcv', 'nibabel', 'h5py') for m in sys.modules), "
            "sorted(m for m in sys.modules if m.startswith(('mm', 'nib', 'h5')))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
