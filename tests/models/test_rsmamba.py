"""RSMamba: official parity (seeded shuffle), eval determinism, the official stochastic mode, kwargs, any input size."""
import math

import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.convert import from_official
from visionssm.convert.rsmamba import kwargs_from_official
from visionssm.kernels import selective_scan  # noqa: F401  (the op the mixer calls)
from visionssm.models.rsmamba import GatedPathMambaMixer, RSMamba
from visionssm.scans.shuffle import ShuffleScan

from ._fixture_parity import official_fixture, pretrained_from_file

official = official_fixture("rsmamba")


def _fixture_perms(cfg):
    return [torch.tensor(p) for p in cfg["shuffle_permutations"]]


def test_official_parity_with_the_recorded_permutations(official):
    cfg, model, x, logits, features, _ = official
    assert isinstance(model, RSMamba) and sum(p.numel() for p in model.parameters()) == cfg["num_params"]
    model.set_shuffle_permutations(_fixture_perms(cfg))
    with torch.no_grad():
        tokens = model.forward_features(x)
        torch.testing.assert_close(model(x), logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(tokens, features[1], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(model.forward_head(tokens, pre_logits=True), features[0], atol=1e-4, rtol=1e-4)


def test_official_stochastic_eval_reproduced_by_the_same_seed(official):
    """The official code draws torch.randperm in every layer at eval; seeded as the fixture was, ours matches."""
    cfg, _, x, logits, _, d = official
    model = from_official("rsmamba", cfg["official_kwargs"], str(d / "checkpoint.pth")).eval()
    for blk in model.blocks:
        blk.mixer.scan.random_in_eval = True
    torch.manual_seed(100)
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(model(x), logits, atol=1e-3)  # the next draw differs: the official eval is random


def test_eval_is_deterministic_and_training_reshuffles(official):
    cfg, _, x, _, _, d = official
    a = from_official("rsmamba", cfg["official_kwargs"], str(d / "checkpoint.pth")).eval()
    b = from_official("rsmamba", cfg["official_kwargs"], str(d / "checkpoint.pth")).eval()
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), atol=0, rtol=0)  # fixed per-layer seeds: same in every process
        perms = [blk.mixer.scan.orders(12, 12)[2] for blk in a.blocks]
        assert len({tuple(p.tolist()) for p in perms}) == len(perms)  # each layer its own permutation
        a.train()
        assert not torch.allclose(a(x), a(x), atol=1e-5)


def test_timm_pretrained_file_route(official):
    cfg, _, x, logits, _, d = official
    kw = kwargs_from_official(cfg["official_kwargs"])
    kw.pop("num_classes")
    model = pretrained_from_file("test_rsmamba", d, 10, **kw)
    model.set_shuffle_permutations(_fixture_perms(cfg))
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch,name", [("b", "rsmamba_b"), ("l", "rsmamba_l"), ("h", "rsmamba_h")])
def test_released_configs_build_the_registered_variants(arch, name):
    official = {"type": "ImageClassifier", "backbone": dict(type="RSMamba", arch=arch, pe_type="learnable",
                path_type="forward_reverse_shuffle_gate", cls_position="none", out_type="avg_featmap", img_size=224,
                patch_size=16, drop_rate=0.0, patch_cfg=dict(stride=8)),
                "head": dict(type="LinearClsHead", num_classes=21, in_channels=192)}
    with torch.device("meta"):
        ours = from_official("rsmamba", official)
        timms = timm.create_model(name)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in timms.state_dict().items()}
    assert ours.grid_size == (28, 28) and ours.pos_embed.shape[1] == 784
    mixer = timms.blocks[0].mixer
    assert mixer.ssm.dt_rank == math.ceil(timms.embed_dim / 16) and mixer.ssm.d_state == 16


def test_forward_reverse_gate_path_and_unsupported_settings(official):
    cfg = official[0]["official_kwargs"]
    two = from_official("rsmamba", {**cfg, "backbone": {**cfg["backbone"], "path_type": "forward_reverse_gate"}})
    assert two.blocks[0].mixer.num_paths == 2 and two.blocks[0].mixer.gate.weight.shape == (2, 64)
    with pytest.raises(NotImplementedError, match="cls_position='head'"):
        from_official("rsmamba", {**cfg, "backbone": {**cfg["backbone"], "cls_position": "head"}})
    with pytest.raises(ValueError, match="not a scan order"):
        GatedPathMambaMixer(16, 32, scan="ncssd")


@pytest.mark.parametrize("size", [(70, 50), (96, 96)])
def test_any_input_size(official, size):
    """The grid is ceil(H/8) x ceil(W/8) (bottom/right zero padding); the position embedding is resampled."""
    model = official[1]
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))
        maps = model.forward_intermediates(torch.randn(1, 3, *size), intermediates_only=True)
    assert out.shape == (1, 10) and torch.isfinite(out).all()
    assert maps[-1].shape[-2:] == (math.ceil(size[0] / 8), math.ceil(size[1] / 8))


def test_layers_use_the_shuffle_strategy():
    model = timm.create_model("test_rsmamba")
    assert all(isinstance(b.mixer.scan, ShuffleScan) for b in model.blocks)
    assert [b.mixer.scan.seed for b in model.blocks] == [0, 1]


def test_scene_folder_config_reads_the_official_layout(tmp_path):
    """The UC Merced config's dataset and pipeline on a tiny tree in the download layout + official split file."""
    pytest.importorskip("mmengine")
    from mmengine.config import Config
    from PIL import Image

    import visionssm.mm  # noqa: F401  (registers SceneFolder and the transforms)
    from visionssm.mm.registry import DATASETS

    cfg = Config.fromfile("configs/classification/rsmamba-l_1xb16-500e_ucmerced-224.py", format_python_code=False)
    assert cfg.model.model_name == "rsmamba_l" and cfg.model.num_classes == 21 == len(cfg.classes)
    for name in ("harbor", "river"):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.new("RGB", (40, 30), (i * 90, 20, 200)).save(tmp_path / name / f"{name}{i}.tif")
    (tmp_path / "val.txt").write_text("river/river1.tif\nharbor/harbor0.tif\n")
    ds_cfg = dict(cfg.val_dataloader.dataset, data_root=str(tmp_path), ann_file=str(tmp_path / "val.txt"))
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 2 and [ds.get_data_info(i)["gt_label"] for i in range(2)] == [17, 0]  # official class order
    sample = ds[0]
    assert tuple(sample["inputs"].shape) == (3, 224, 224) and sample["data_samples"]["gt_label"] == 17
    (tmp_path / "bad.txt").write_text("lake/lake1.tif\n")
    with pytest.raises(ValueError, match="class 'lake'"):
        DATASETS.build(dict(ds_cfg, ann_file=str(tmp_path / "bad.txt")))
