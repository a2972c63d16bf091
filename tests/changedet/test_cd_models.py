"""ChangeMamba models: shapes, the three spatio-temporal arrangements, scan/backbone swaps, weight sharing."""
import pytest
import torch
from torch import nn

from visionssm.changedet import (
    ChangeDecoder,
    MambaBCD,
    MambaBDA,
    MambaSCD,
    SpatioTemporalFusion,
    build_change_model,
    load_change_checkpoint,
)
from visionssm.changedet.decoders import interleave_columns
from visionssm.changedet.models import output_stride

# smallest VMamba that keeps the architecture (v2 stem/downsample/blocks); decoder width 16
TINY = {"backbone_kwargs": {"depths": (1, 1, 1, 1), "dims": 8}, "channels": 16, "block_kwargs": {"mlp_ratio": 1.0}}


def test_interleave_columns_layout():
    a = torch.arange(6.0).view(1, 1, 2, 3)
    b = -a - 1
    x = interleave_columns(a, b)
    assert x.shape == (1, 1, 2, 6)
    assert torch.equal(x[..., 0::2], a) and torch.equal(x[..., 1::2], b)
    assert x[0, 0, 0].tolist() == [0.0, -1.0, 1.0, -2.0, 2.0, -3.0]


class _Record(nn.Module):
    """Stands in for a VSS block: records what it sees, returns it unchanged."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def forward(self, x):
        self.log.append(x.detach().clone())
        return x


def test_three_arrangements_and_split_back():
    log = []
    fusion = SpatioTemporalFusion(2, 2, lambda dim: _Record(log))
    for conv in (fusion.parallel[0], fusion.cross[0], fusion.sequential[0]):  # make the 1×1 convs identities
        with torch.no_grad():
            conv.weight.zero_()
            conv.bias.zero_()
            for i in range(conv.out_channels):
                conv.weight[i, i] = 1.0
    pre, post = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    fusion(pre, post)
    par, cross, seq = log
    assert torch.equal(par, torch.cat([pre, post], 1)[:, :2])  # channel concat (first 2 of 4 channels kept)
    assert cross.shape == (1, 2, 3, 8) and torch.equal(cross[..., 0::2], pre) and torch.equal(cross[..., 1::2], post)
    assert seq.shape == (1, 2, 3, 8) and torch.equal(seq[..., :4], pre) and torch.equal(seq[..., 4:], post)


def test_decoder_uses_configured_scan_and_vss_blocks():
    model = MambaBCD(scan="bidirectional", **TINY)
    mixers = [m for m in model.decoder.modules() if type(m).__name__ == "SS2D"]
    assert len(mixers) == 12  # 3 arrangements × 4 scales
    assert {m.scan.scan_name for m in mixers} == {"bidirectional"}
    assert isinstance(model.decoder, ChangeDecoder)


@pytest.mark.parametrize("cls, n_out, channels", [(MambaBCD, 1, (2,)), (MambaSCD, 3, (2, 7, 7)), (MambaBDA, 2, (2, 5))])
def test_output_shapes_at_input_size(cls, n_out, channels):
    model = cls(**TINY).eval()
    x, y = torch.randn(1, 3, 32, 48), torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        out = model(x, y)
    outs = (out,) if isinstance(out, torch.Tensor) else out
    assert len(outs) == n_out
    assert [tuple(o.shape) for o in outs] == [(1, c, 32, 48) for c in channels]
    assert all(torch.isfinite(o).all() for o in outs)
    preds = model.predict(out)
    assert all(p.shape == (1, 32, 48) for p in preds.values())
    assert output_stride(model) == 4


def test_packed_six_channel_input_equals_two_inputs():
    model = MambaBCD(**TINY).eval()
    x, y = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x, y), model(torch.cat([x, y], 1)))


def test_encoder_is_shared_and_gradients_reach_every_parameter():
    model = MambaBCD(**TINY)
    assert not any("encoder_to" in n or "encoder2" in n for n, _ in model.named_parameters())
    out = model(torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32))  # batch 2: BatchNorm on the 1×1 level
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing[:5]


def test_any_timm_features_only_backbone():
    model = MambaBCD(backbone="test_efficientnet", channels=16, block_kwargs={"mlp_ratio": 1.0}).eval()
    assert model.encoder.reductions == [4, 8, 16, 32]  # the stride-2 level is dropped
    assert model.encoder.channels == [24, 32, 48, 64]
    assert isinstance(model.encoder.norms[0], nn.Identity)  # out-norms only for visionssm backbones
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)).shape == (1, 2, 32, 32)


def test_too_few_levels_is_a_clear_error():
    with pytest.raises(ValueError, match="feature levels"):
        MambaBCD(backbone="test_vit", channels=16)


def test_build_by_name_and_size():
    with pytest.raises(ValueError, match="unknown change model"):
        build_change_model("mamba_xyz")
    with pytest.raises(ValueError, match="size must be"):
        build_change_model("mamba_bcd", size="huge")
    model = build_change_model("mamba_bda", size="tiny", backbone_kwargs={"depths": (1, 1, 1, 1), "dims": 8}, channels=8)
    assert type(model.encoder.backbone).__name__ == "FeatureListNet"
    assert model.encoder.channels == [8, 16, 32, 64]


def test_encoder_loads_imagenet_weights_through_timm(tmp_path):
    import timm

    classifier = timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 1, 1), dims=8)
    torch.save({"model": classifier.state_dict()}, tmp_path / "in1k.pth")  # official container layout
    model = MambaBCD(**TINY)
    model.encoder.load_pretrained(str(tmp_path / "in1k.pth"))
    ours = dict(model.encoder.backbone.named_parameters())
    theirs = dict(classifier.named_parameters())
    assert len(ours) > 20
    assert all(torch.equal(p, theirs[n.replace("stages_", "stages.")]) for n, p in ours.items())


def test_checkpoint_round_trip_and_mismatch_error(tmp_path):
    a, b = MambaBCD(**TINY), MambaBCD(**TINY)
    torch.save({"meta": {}, "state_dict": {f"model.{k}": v for k, v in a.state_dict().items()}}, tmp_path / "c.pth")
    load_change_checkpoint(b, tmp_path / "c.pth")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    with pytest.raises(RuntimeError, match="does not fit MambaSCD"):
        load_change_checkpoint(MambaSCD(**TINY), tmp_path / "c.pth")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda():
    """Device-agnostic: no tensor is created on a hard-coded device (the official decoder hard-codes .cuda())."""
    model = MambaSCD(**TINY).cuda()
    out = model(torch.randn(2, 3, 32, 32, device="cuda"), torch.randn(2, 3, 32, 32, device="cuda"))
    sum(o.float().mean() for o in out).backward()
    assert all(o.device.type == "cuda" for o in out)
