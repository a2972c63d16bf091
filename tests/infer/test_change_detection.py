"""``visionssm infer BEFORE AFTER --config cd.py``: delegates to visionssm.changedet (tiny config, random weights)."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytestmark = pytest.mark.mm
ROOT = Path(__file__).resolve().parents[2]


def test_change_detection_folder_pair(tmp_path):
    pytest.importorskip("mmengine")
    from visionssm.changedet import model_from_config
    from visionssm.cli.main import main

    base = ROOT / "configs/change_detection/mambabcd-base_1xb16-20k_levir-cd-256x256.py"
    cfg = tmp_path / "cd.py"
    cfg.write_text(f"_base_ = [{str(base)!r}]\nmodel = dict(backbone='vmamba_tiny_s1l8', backbone_kwargs=dict("
                   "depths=(1, 1, 2, 1), dims=16, drop_path_rate=0.0), channels=16, init_cfg=None)\n")
    torch.save(model_from_config(str(cfg)).state_dict(), tmp_path / "cd.pth")
    rng = np.random.default_rng(0)
    for side in ("before", "after"):
        (tmp_path / side).mkdir()
        for name in ("t1.png", "t2.png"):
            Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(tmp_path / side / name)
    out = tmp_path / "out"
    args = ["infer", str(tmp_path / "before"), str(tmp_path / "after"), "--config", str(cfg),
            "--checkpoint", str(tmp_path / "cd.pth"), "--out-dir", str(out), "--no-progress", "--device", "cpu"]
    main(args)
    for name in ("t1.png", "t2.png"):
        mask = np.asarray(Image.open(out / "masks" / name))
        assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 255}
        assert (out / "overlays" / name).is_file()
    with pytest.raises(SystemExit) as e:  # outputs exist: refused without --overwrite
        main(args)
    assert e.value.code == 2
