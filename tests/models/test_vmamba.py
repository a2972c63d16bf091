"""VMamba: parity with the official code (fixtures), official checkpoint layouts, timm loading, scans, sizes."""
import json

import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import visionssm  # noqa: F401  (registers the models)
from visionssm.convert import from_official
from visionssm.models import vmamba as vm
from visionssm.models.published import PARAM_COUNTS

FIXTURES = ("vmamba_v0", "vmamba_v2")
# the fixtures' reduced architecture as our kwargs (official kwargs: depths [1,1,2,1], dims 24, 10 classes)
FIXTURE_VARIANT = {"vmamba_v0": "vmamba_tiny", "vmamba_v2": "vmamba_tiny_s1l8"}
FIXTURE_KWARGS = {"depths": (1, 1, 2, 1), "dims": 24, "num_classes": 10}
# parameter counts of the official vmamba.py builders (MzeroMiko/VMamba 2ed52ead), instantiated and counted
OFFICIAL_COUNTS = {
    "vmamba_tiny": 22_893_448, "vmamba_small": 44_417_416, "vmamba_base": 76_254_056,
    "vmamba_tiny_s2l5": 30_705_832, "vmamba_small_s2l15": 50_147_752, "vmamba_base_s2l15": 88_557_800,
    "vmamba_tiny_s1l8": 30_249_064, "vmamba_small_s1l20": 49_012_840, "vmamba_base_s1l20": 86_614_504,
}
SMALL = {"depths": (1, 1, 2, 1), "dims": 16}


def _load(fixtures_dir, name):
    d = fixtures_dir / name
    cfg = json.loads((d / "config.json").read_text())
    load = lambda f: torch.load(d / f, weights_only=True)  # noqa: E731
    return d, cfg, load("input.pt"), load("logits.pt"), load("features.pt")


def _run(model, x):
    with torch.no_grad():
        logits = model(x)
        _, feats = model.forward_intermediates(x)
    return logits, feats


def _assert_matches(model, x, logits, feats):
    out, ours = _run(model.eval(), x)
    torch.testing.assert_close(out, logits, atol=1e-4, rtol=1e-4)
    assert len(ours) == len(feats)
    for a, b in zip(ours, feats):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", FIXTURES)
def test_official_parity(fixtures_dir, name):
    d, cfg, x, logits, feats = _load(fixtures_dir, name)
    model = from_official(cfg["family"], cfg["official_kwargs"], str(d / "checkpoint.pth"))
    assert sum(p.numel() for p in model.parameters()) == cfg["num_params"]
    _assert_matches(model, x, logits, feats)


@pytest.mark.parametrize("name", FIXTURES)
def test_timm_pretrained_file_loads_official_checkpoint(fixtures_dir, name):
    d, cfg, x, logits, feats = _load(fixtures_dir, name)
    model = timm.create_model(FIXTURE_VARIANT[name], pretrained=True, **FIXTURE_KWARGS,
                              pretrained_cfg_overlay={"file": str(d / "checkpoint.pth"), "num_classes": 10})
    _assert_matches(model, x, logits, feats)


def test_family_vmamba_auto_detects_generation(fixtures_dir):
    for name in FIXTURES:
        d, cfg, x, logits, _ = _load(fixtures_dir, name)
        model = from_official("vmamba", cfg["official_kwargs"], str(d / "checkpoint.pth")).eval()
        with torch.no_grad():
            torch.testing.assert_close(model(x), logits, atol=1e-4, rtol=1e-4)
    _, cfg0, *_ = _load(fixtures_dir, "vmamba_v0")
    with pytest.raises(ValueError, match="vmamba_v0"):
        from_official("vmamba_v2", cfg0["official_kwargs"])
    with pytest.raises(ValueError, match="unknown official VMamba kwargs"):
        from_official("vmamba", dict(cfg0["official_kwargs"], not_a_vssm_arg=1))


def _single_file_layout(sd):
    """Released layout → the single-file vmamba.py grouped-Linear layout."""
    out = {}
    for k, v in sd.items():
        if k.endswith("op.x_proj_weight"):
            out[k.replace("x_proj_weight", "x_proj.weight")] = v.reshape(-1, v.shape[-1])
        elif k.endswith("op.dt_projs_weight"):
            out[k.replace("dt_projs_weight", "dt_projs.weight")] = v.reshape(-1, v.shape[-1])
        else:
            out[k] = v
    return out


def _current_v0_names(sd):
    """Legacy v0 names → the names the current official VSSM uses."""
    ren = [("patch_embed.proj.", "patch_embed.0."), ("patch_embed.norm.", "patch_embed.2."), (".ln_1.", ".norm."),
           (".self_attention.", ".op."), ("downsample.norm.", "downsample.1."), ("downsample.reduction.", "downsample.2.")]
    out = {}
    for k, v in sd.items():
        for a, b in ren:
            k = k.replace(a, b)
        if k.startswith(("norm.", "head.")):
            k = "classifier." + k
        out[k] = v
    return out


@pytest.mark.parametrize("name,layout", [("vmamba_v2", "single_file"), ("vmamba_v0", "current_names"),
                                         ("vmamba_v0", "single_file")])
def test_other_official_layouts_and_containers(fixtures_dir, tmp_path, name, layout):
    d, cfg, x, logits, feats = _load(fixtures_dir, name)
    sd = torch.load(d / "checkpoint.pth", weights_only=True)["model"]
    if name == "vmamba_v0" and layout == "single_file":
        sd = _current_v0_names(sd)
    sd = _single_file_layout(sd) if layout == "single_file" else _current_v0_names(sd)
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3}, path)
    _assert_matches(from_official(cfg["family"], cfg["official_kwargs"], str(path)), x, logits, feats)


def test_converted_safetensors_round_trip_and_timm_options(fixtures_dir, tmp_path):
    d, cfg, x, logits, _ = _load(fixtures_dir, "vmamba_v2")
    model = from_official(cfg["family"], cfg["official_kwargs"], str(d / "checkpoint.pth")).eval()
    sd = model.state_dict()
    assert vm.checkpoint_filter_fn(sd, model).keys() == sd.keys()  # idempotent on our own keys
    path = tmp_path / "vmamba_tiny_s1l8.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    overlay = {"file": str(path), "num_classes": 10}
    same = timm.create_model("vmamba_tiny_s1l8", pretrained=True, pretrained_cfg_overlay=overlay, **FIXTURE_KWARGS)
    with torch.no_grad():
        torch.testing.assert_close(same.eval()(x), logits, atol=1e-4, rtol=1e-4)
    # new head and one input channel: timm drops the classifier and sums the stem conv over channels
    gray = timm.create_model("vmamba_tiny_s1l8", pretrained=True, pretrained_cfg_overlay=overlay,
                             **dict(FIXTURE_KWARGS, num_classes=5), in_chans=1)
    torch.testing.assert_close(gray.stem.conv1.weight, sd["stem.conv1.weight"].sum(1, keepdim=True))
    assert gray.eval()(x[:, :1]).shape == (2, 5)
    feats = timm.create_model("vmamba_tiny_s1l8", pretrained=True, pretrained_cfg_overlay=overlay,
                              features_only=True, out_indices=(1, 2, 3), **FIXTURE_KWARGS)
    with torch.no_grad():
        maps = feats.eval()(x)
    assert [tuple(m.shape) for m in maps] == [(2, 48, 12, 12), (2, 96, 6, 6), (2, 192, 3, 3)]


def test_mismatched_checkpoint_names_keys_and_variant(fixtures_dir):
    d, cfg, *_ = _load(fixtures_dir, "vmamba_v0")
    with pytest.raises(RuntimeError) as e:  # v0 checkpoint into a v2 model, timm route
        timm.create_model("vmamba_tiny_s1l8", pretrained=True, **FIXTURE_KWARGS,
                          pretrained_cfg_overlay={"file": str(d / "checkpoint.pth"), "num_classes": 10})
    msg = str(e.value)
    assert "missing keys" in msg and "unexpected keys" in msg and "looks like" in msg and "VMamba v0" in msg
    _, cfg2, *_ = _load(fixtures_dir, "vmamba_v2")
    with pytest.raises(RuntimeError, match=r"(?s)missing keys.*looks like: no registered VMamba variant; VMamba v0"):
        from_official("vmamba_v2", cfg2["official_kwargs"], str(d / "checkpoint.pth"))


@pytest.mark.parametrize("name", sorted(OFFICIAL_COUNTS))
def test_full_size_counts_and_variant_guess(name):
    with torch.device("meta"):
        model = timm.create_model(name)
    count = sum(p.numel() for p in model.parameters())
    assert count == OFFICIAL_COUNTS[name]
    assert abs(count / 1e6 - PARAM_COUNTS[name]) / PARAM_COUNTS[name] < 0.01
    assert vm.guess_variant(model.state_dict()).startswith(name + " ")


def test_scan_swap():
    x = torch.randn(1, 3, 64, 64)
    cross = timm.create_model("test_vmamba").eval()
    with torch.no_grad():
        for p in cross.parameters():  # move away from the near-identity init so the mixers matter
            p.add_(0.1 * torch.randn_like(p))
    zigzag = timm.create_model("test_vmamba", scan="zigzag").eval()
    zigzag.load_state_dict(cross.state_dict())  # K = 4 for both: same parameters, other token orders
    with torch.no_grad():
        assert (cross.forward_features(x) - zigzag.forward_features(x)).abs().max() > 1e-3  # float noise is ~1e-6
    hilbert = timm.create_model("vmamba_tiny", scan="hilbert", **SMALL)
    blocks = [m for m in hilbert.modules() if isinstance(m, vm.SS2D)]
    assert all(b.ssm.x_proj_weight.shape[0] == b.scan.num_directions for b in blocks)
    assert len({id(b.scan) for b in blocks}) == 1  # stateless strategy: one instance, one order cache
    out = hilbert(x)
    out.mean().backward()
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["vmamba_tiny", "test_vmamba"])
def test_odd_non_square_input(name):
    model = timm.create_model(name, features_only=True, **SMALL).eval()
    with torch.no_grad():
        feats = model(torch.randn(1, 3, 45, 61))
    if name == "vmamba_tiny":  # conv 4/4 then PatchMerging pads odd sizes: 11x15 → 6x8 → 3x4 → 2x2
        expect = [(11, 15), (6, 8), (3, 4), (2, 2)]
    else:  # two 3x3/2 convs then 3x3/2 convs: 23x31 → 12x16 → 6x8 → 3x4 → 2x2
        expect = [(12, 16), (6, 8), (3, 4), (2, 2)]
    assert [tuple(f.shape[-2:]) for f in feats] == expect
    assert all(torch.isfinite(f).all() for f in feats)


def test_patch_merging_pads_bottom_right():
    pm = vm.PatchMerging(3, 5)
    x = torch.randn(1, 3, 5, 7)
    p = F.pad(x, (0, 1, 0, 1))
    cat = torch.cat([p[..., 0::2, 0::2], p[..., 1::2, 0::2], p[..., 0::2, 1::2], p[..., 1::2, 1::2]], 1)
    expect = pm.reduction(pm.norm(cat.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
    torch.testing.assert_close(pm(x), expect)


def test_in_chans_and_training_api():
    model = timm.create_model("vmamba_tiny", in_chans=1, num_classes=4, **SMALL)
    assert model(torch.randn(2, 1, 40, 40)).shape == (2, 4)
    nwd = model.no_weight_decay()
    names = dict(model.named_parameters())
    assert nwd and nwd <= names.keys()
    assert {n.rsplit(".", 1)[-1] for n in nwd} == {"A_logs", "Ds", "dt_projs_bias"}
    groups = timm.models.group_parameters(model, model.group_matcher())
    assert sum(len(g) for g in groups.values()) == len(names)
    x = torch.randn(1, 1, 64, 64)
    model.eval()
    with torch.no_grad():
        ref = model(x)
        model.set_grad_checkpointing(True)
        torch.testing.assert_close(model(x), ref)
        inter = model.forward_intermediates(x, indices=[1, 2], intermediates_only=True)
    assert [t.shape[1] for t in inter] == [32, 64]
    kept = model.prune_intermediate_layers([1])
    assert kept == [1] and len(model.stages) == 2 and model.num_features == 32
    with torch.no_grad():
        assert model(x).shape == (1, 32, 8, 8)
