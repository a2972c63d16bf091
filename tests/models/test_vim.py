"""Vision Mamba: official parity, position-embedding resizing around the middle class token, timm API."""
import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.convert import from_official, load_checkpoint_file
from visionssm.convert.vim import kwargs_from_official
from visionssm.models import vim
from visionssm.models.published import PARAM_COUNTS
from visionssm.scans.bidirectional import BidirectionalScan

from ._fixture_parity import full_size_millions, official_fixture, pretrained_from_file

official = official_fixture("vim")


def test_official_parity(official):
    cfg, model, x, logits, features, _ = official
    assert sum(p.numel() for p in model.parameters()) == cfg["num_params"]
    with torch.no_grad():
        tokens = model.forward_features(x)
        out = model.forward_head(tokens)
    assert torch.allclose(out, logits, atol=1e-4, rtol=1e-4), (out - logits).abs().max()
    assert torch.allclose(tokens, features[0], atol=1e-4, rtol=1e-4), (tokens - features[0]).abs().max()


def test_timm_pretrained_file_route(official):
    """timm.create_model(pretrained=True, file=<official .pth>) converts the keys in checkpoint_filter_fn."""
    cfg, _, x, logits, _, d = official
    kw = cfg["official_kwargs"]
    model = pretrained_from_file("vim_tiny", d, kw["num_classes"], embed_dim=kw["embed_dim"], depth=kw["depth"],
                                 img_size=kw["img_size"], num_classes=kw["num_classes"])
    with torch.no_grad():
        assert torch.allclose(model(x), logits, atol=1e-4, rtol=1e-4)


def test_token_order_comes_from_the_scan_registry(official):
    mixer = official[1].blocks[0].mixer
    assert isinstance(mixer.scan, BidirectionalScan)
    assert mixer.scan.token_orders(6, 6).tolist() == [list(range(36)), list(range(35, -1, -1))]


def test_pos_embed_resize_keeps_middle_class_token():
    C, old, new = 4, (3, 3), (4, 5)
    pos = torch.randn(1, 9 + 1, C)
    out = vim.resize_pos_embed(pos, new, old)
    assert out.shape == (1, 20 + 1, C)
    assert torch.equal(out[:, 20 // 2], pos[:, 9 // 2])  # class entry moves from index 4 to index 10
    patches = torch.cat([pos[:, :4], pos[:, 5:]], dim=1).reshape(1, 3, 3, C).permute(0, 3, 1, 2)
    want = torch.nn.functional.interpolate(patches, size=new, mode="bicubic", align_corners=False)
    want = want.permute(0, 2, 3, 1).reshape(1, 20, C)
    assert torch.allclose(torch.cat([out[:, :10], out[:, 11:]], dim=1), want)
    assert vim.resize_pos_embed(pos, old, old) is pos
    with pytest.raises(ValueError, match="pos_embed has 10 entries"):
        vim.resize_pos_embed(pos, new, (4, 4))


def test_other_input_sizes(official):
    """The fixture model (trained for 96×96) runs at other sizes; at 96×96 nothing is resized."""
    _, model, x, logits, _, _ = official
    with torch.no_grad():
        for size in [(128, 128), (64, 112), (80, 48)]:
            out = model(torch.nn.functional.interpolate(x, size=size, mode="bilinear"))
            assert out.shape == logits.shape and torch.isfinite(out).all()
        assert torch.allclose(model(x), logits, atol=1e-4, rtol=1e-4)


def test_filter_fn_resizes_checkpoint_pos_embed(official):
    """Loading 96×96 weights into a 128×128 model resizes pos_embed around the middle class token."""
    cfg, _, _, _, _, d = official
    kw = kwargs_from_official(cfg["official_kwargs"])
    model = vim.VisionMamba(**dict(kw, img_size=128))
    sd = vim.checkpoint_filter_fn(load_checkpoint_file(d / "checkpoint.pth"), model)
    model.load_state_dict(sd)
    official_pos = load_checkpoint_file(d / "checkpoint.pth")["model"]["pos_embed"]
    assert model.pos_embed.shape == (1, 65, 64)
    assert torch.equal(model.pos_embed[:, 32], official_pos[:, 18])


def test_mismatched_checkpoint_names_keys_and_variant(official):
    cfg, _, _, _, _, d = official
    wrong = dict(cfg["official_kwargs"], depth=3)
    with pytest.raises(RuntimeError, match=r"unexpected keys, first: \['blocks\.3\.") as e:
        from_official("vim", wrong, str(d / "checkpoint.pth"))
    assert "looks like" in str(e.value) and "depth 4" in str(e.value)
    wrong = dict(cfg["official_kwargs"], embed_dim=32)
    with pytest.raises(RuntimeError, match="shape mismatches"):
        from_official("vim", wrong, str(d / "checkpoint.pth"))


def test_unsupported_official_kwargs_fail_clearly(official):
    kw = official[0]["official_kwargs"]
    with pytest.raises(NotImplementedError, match="if_rope"):
        kwargs_from_official(dict(kw, if_rope=True))
    with pytest.raises(NotImplementedError, match="bimamba_type"):
        kwargs_from_official(dict(kw, bimamba_type="v1"))


@pytest.mark.parametrize("name", sorted(vim.SMALL_TEST_CONFIGS))
def test_published_param_counts(name):
    millions = full_size_millions(name)
    assert abs(millions - PARAM_COUNTS[name]) < 0.5, millions  # README rounds to whole millions


def test_features_only_and_intermediates():
    model = timm.create_model("test_vim", features_only=True, out_indices=(0, 1)).eval()
    feats = model(torch.randn(2, 3, 64, 96))
    assert [f.shape for f in feats] == [(2, 32, 4, 6)] * 2
    assert model.feature_info.reduction() == [16, 16]
    net = timm.create_model("test_vim", stride=8).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        final, inter = net.forward_intermediates(x)
        assert torch.allclose(final, net.forward_features(x))
    assert inter[-1].shape == (1, 32, 7, 7)  # (64 - 16) // 8 + 1


def test_api_pooling_and_weight_decay():
    model = timm.create_model("test_vim", num_classes=5).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        tokens = model.forward_features(x)
        assert tokens.shape == (2, 17, 32)
        assert torch.equal(model.forward_head(tokens, pre_logits=True), tokens[:, 8])
        model.reset_classifier(0, "avg")
        assert torch.allclose(model(x), torch.cat([tokens[:, :8], tokens[:, 9:]], 1).mean(1))
    nwd = model.no_weight_decay()
    assert {"pos_embed", "cls_token", "blocks.0.mixer.ssm.A_logs", "blocks.1.mixer.ssm.Ds",
            "blocks.0.mixer.ssm.dt_projs_bias"} <= nwd


@pytest.mark.parametrize("scan,K", [("cross", 4), ("bidirectional", 2), ("atrous", 4), ("hilbert", 2)])
def test_scan_kwarg_swaps_strategy(scan, K):
    model = timm.create_model("test_vim", scan=scan)
    assert model.blocks[0].mixer.ssm.num_directions == K
    out = model(torch.randn(1, 3, 64, 80))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
