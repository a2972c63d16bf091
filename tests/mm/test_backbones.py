"""Backbone wrappers: registries, NCHW outputs and strides, frozen stages, checkpointing, weight loading."""
import json

import pytest
import torch

pytestmark = pytest.mark.mm

pytest.importorskip("mmdet")
from visionssm.mm import VisionSSMBackbone, VisionSSMSimplePyramid  # noqa: E402

VMAMBA = {"model_name": "vmamba_tiny_s1l8", "depths": (1, 1, 2, 1), "dims": 16}
VIM = {"model_name": "vim_tiny", "embed_dim": 32, "depth": 2, "img_size": 64}


def test_registered_in_visionssm_mmdet_and_mmseg_scopes():
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG
    for reg in (DET, SEG):
        assert reg.get("visionssm.VisionSSMBackbone") is VisionSSMBackbone
        assert reg.get("VisionSSMBackbone") is VisionSSMBackbone
        assert reg.get("visionssm.VisionSSMSimplePyramid") is VisionSSMSimplePyramid
    b = DET.build(dict(type="visionssm.VisionSSMBackbone", **VMAMBA))
    assert isinstance(b, VisionSSMBackbone)


def test_hierarchical_outputs_strides_and_out_norms():
    b = VisionSSMBackbone(**VMAMBA, out_indices=(1, 2, 3))
    out = b(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in out] == [(2, 32, 8, 12), (2, 64, 4, 6), (2, 128, 2, 3)]
    assert b.strides == [8, 16, 32] and b.channels == [32, 64, 128]
    # the LayerNorm2d per output normalises over channels
    o = out[0]
    torch.testing.assert_close(o.mean(1), torch.zeros_like(o.mean(1)), atol=1e-5, rtol=0)
    with pytest.raises(TypeError):
        VisionSSMBackbone(**VMAMBA, not_a_kwarg=1)
    with pytest.raises(ValueError, match="exactly one"):
        VisionSSMBackbone()


def test_frozen_stages_stay_frozen_and_in_eval():
    b = VisionSSMBackbone(**VMAMBA, frozen_stages=1)
    b.train()
    inner = b.body.model
    frozen = {n for n, p in inner.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith(("stem", "stages.0")) for n in frozen)
    assert all(p.requires_grad for n, p in inner.named_parameters() if n.startswith("stages.1"))
    assert not b.out_norms[0].weight.requires_grad and b.out_norms[1].weight.requires_grad
    assert all(not m.training for m in b._frozen_modules)
    out = b(torch.randn(1, 3, 64, 64))
    sum(o.sum() for o in out).backward()
    assert all(p.grad is None for n, p in inner.named_parameters() if n in frozen)
    assert inner.stages[1].blocks[0].mlp.fc1.weight.grad is not None


def test_with_cp_gives_same_gradients():
    torch.manual_seed(0)
    a = VisionSSMBackbone(**VMAMBA, drop_path_rate=0.0)
    b = VisionSSMBackbone(**VMAMBA, drop_path_rate=0.0, with_cp=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 32, 32)
    for m in (a, b):
        sum(o.square().sum() for o in m(x)).backward()
    ga = a.body.model.stem.conv1.weight.grad if hasattr(a.body.model.stem, "conv1") else None
    gb = b.body.model.stem.conv1.weight.grad if hasattr(b.body.model.stem, "conv1") else None
    assert ga is not None and torch.allclose(ga, gb, atol=1e-5)


def test_init_cfg_loads_our_and_mmdet_checkpoints(tmp_path):
    src = VisionSSMBackbone(**VMAMBA)
    x = torch.randn(1, 3, 32, 32)
    # our timm checkpoint of the full classifier ({'state_dict': ...} with head keys the backbone lacks)
    import timm
    full = timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 2, 1), dims=16)
    torch.save({"state_dict": full.state_dict()}, tmp_path / "ours.pth")
    b = VisionSSMBackbone(**VMAMBA, init_cfg={"type": "Pretrained", "checkpoint": str(tmp_path / "ours.pth")})
    b.init_weights()
    for k, v in b.body.model.state_dict().items():
        assert torch.equal(v, full.state_dict()[k]), k
    # an mmdet checkpoint of a detector (keys 'backbone.body.model.*')
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in src.state_dict().items()}}, tmp_path / "det.pth")
    c = VisionSSMBackbone(**VMAMBA, init_cfg={"type": "Pretrained", "checkpoint": str(tmp_path / "det.pth")})
    c.init_weights()
    c.out_norms.load_state_dict(src.out_norms.state_dict())
    src.eval()
    c.eval()
    for o1, o2 in zip(src(x), c(x)):
        torch.testing.assert_close(o1, o2)
    # a checkpoint of another variant fails with the first missing keys named
    other = timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 1, 1), dims=16)
    torch.save({"model": other.state_dict()}, tmp_path / "other.pth")
    d = VisionSSMBackbone(**VMAMBA, init_cfg={"type": "Pretrained", "checkpoint": str(tmp_path / "other.pth")})
    with pytest.raises(RuntimeError, match="missing keys, first: .*stages.2.blocks.1"):
        d.init_weights()


@pytest.mark.parametrize("fixture", ["vmamba_v2"])
def test_official_checkpoint_reproduces_official_stage_features(fixtures_dir, fixture):
    """official=dict(family, kwargs, checkpoint) and init_cfg with the official file give the official features."""
    d = fixtures_dir / fixture
    cfg = json.loads((d / "config.json").read_text())
    x = torch.load(d / "input.pt", weights_only=True)
    ref = torch.load(d / "features.pt", weights_only=True)
    b = VisionSSMBackbone(official={"family": cfg["family"], "kwargs": cfg["official_kwargs"],
                                        "checkpoint": str(d / "checkpoint.pth")}, out_norm=None).eval()
    with torch.no_grad():
        out = b(x)
    assert len(out) == len(ref)
    for o, r in zip(out, ref):
        torch.testing.assert_close(o, r, atol=1e-4, rtol=1e-4)
    k = cfg["official_kwargs"]
    c = VisionSSMBackbone("vmamba_tiny_s1l8", depths=tuple(k["depths"]), dims=k["dims"], out_norm=None,
                          num_classes=k["num_classes"],
                          init_cfg={"type": "Pretrained", "checkpoint": str(d / "checkpoint.pth")}).eval()
    c.init_weights()
    with torch.no_grad():
        for o, r in zip(c(x), ref):
            torch.testing.assert_close(o, r, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("out_indices", [(1,), (0, 1, 1, 1)])
def test_simple_pyramid_strides_4_to_32(out_indices):
    p = VisionSSMSimplePyramid(**VIM, out_indices=out_indices)
    out = p(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in out] == [(2, 32, 16, 16), (2, 32, 8, 8), (2, 32, 4, 4), (2, 32, 2, 2)]
    sum(o.sum() for o in out).backward()
    assert p.body.model.blocks[0].mixer.in_proj.weight.grad is not None if hasattr(
        p.body.model.blocks[0], "mixer") else True


def test_simple_pyramid_layer_decay_groups():
    from visionssm.mm.optim import TimmParamGroupsConstructor
    p = VisionSSMSimplePyramid(**VIM, out_indices=(1,))
    groups = TimmParamGroupsConstructor({"optimizer": {"type": "AdamW", "lr": 1.0, "weight_decay": 0.05}},
                                        {"layer_decay": 0.5}).param_groups(p, 1.0, 0.05)
    lrs = sorted({g["lr"] for g in groups})
    assert lrs[-1] == 1.0 and lrs[0] < 0.2  # the pyramid layers at full lr, the patch embedding decayed most
    decays = {id(q): g["weight_decay"] for g in groups for q in g["params"]}
    assert all(decays[id(q)] == 0.0 for q in p.parameters() if q.ndim <= 1)
