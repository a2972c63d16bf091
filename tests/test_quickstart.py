"""The README's first job (tools/quickstart.sh) at a reduced size: export digits → train → classify held-out images."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_digits_export_is_stratified_and_disjoint(tmp_path):
    pytest.importorskip("sklearn")
    from visionssm.data.digits import export_digits

    counts = export_digits(tmp_path / "d", val_fraction=0.2, seed=0)
    meta = json.loads((tmp_path / "d" / "split.json").read_text())
    assert counts == {"train": 1438, "val": 359} and not set(meta["train"]) & set(meta["val"])
    per_class = {c: len(list((tmp_path / "d" / "val" / str(c)).glob("*.png"))) for c in range(10)}
    assert all(35 <= n <= 37 for n in per_class.values())  # 20% of each class's ~180 samples
    assert export_digits(tmp_path / "d", val_fraction=0.2, seed=0) == counts  # reused, not rewritten
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_digits(tmp_path / "d", val_fraction=0.2, seed=1)


@pytest.mark.slow
@pytest.mark.mm
def test_quickstart_script_end_to_end(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("mmengine")
    env = dict(os.environ, DATA_DIR=str(tmp_path / "digits"), WORK_DIR=str(tmp_path / "work"),
               OUT_DIR=str(tmp_path / "out"), OMP_NUM_THREADS="1")
    shrink = ["--cfg-options", "train_cfg.max_epochs=1", "train_dataloader.dataset.indices=128",
              "val_dataloader.dataset.indices=32", "model.dims=8", "model.depths=(1,1,1)",
              "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False"]
    res = subprocess.run(["bash", str(ROOT / "tools" / "quickstart.sh"), *shrink], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    console = res.stdout + res.stderr
    # a newcomer's screen: progress, accuracy, where the files went; no registry warnings, no config dump
    assert "Failed to search registry" not in console and "Config:" not in console, console[-3000:]
    assert "Hooks will be executed" not in console and "System environment" not in console
    assert "Epoch(train) [1][2/2]" in console and "accuracy/top1" in console
    assert "outputs: checkpoint" in console and "full log" in console
    assert len(console.splitlines()) <= 40, console
    m = re.search(r"held-out top-1 accuracy: ([\d.]+)% on (\d+) images", res.stdout)
    assert m and 0.0 <= float(m.group(1)) <= 100.0 and int(m.group(2)) == 359, res.stdout[-2000:]
    out = tmp_path / "out"
    data = json.loads((out / "predictions.json").read_text())
    assert data["num_predicted"] == 359 and not data["failures"]
    correct = sum(p["correct"] for p in data["predictions"])
    assert data["top1_accuracy"] == pytest.approx(100.0 * correct / 359)
    assert len((out / "predictions.csv").read_text().splitlines()) == 360
    assert (out / "contact_sheet.png").stat().st_size > 1000
