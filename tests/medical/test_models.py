"""Model structure, scans, parameter/FLOP counts and the VMamba checkpoint path into VM-UNet."""
import pytest
import torch

from visionssm.medical import count_flops, count_params, create_medical_model, list_medical_models
from visionssm.medical.lightm_unet import LightMUNet
from visionssm.medical.models import SMALL_TEST_CONFIGS
from visionssm.medical.vm_unet import VMUNet

INPUTS = {"vm_unet": (1, 3, 32, 32), "mhs_vm_unet": (1, 3, 32, 32), "lightm_unet": (1, 1, 8, 8, 8),
          "lightm_unet_2d": (2, 3, 16, 16), "lightm_unet_3d": (1, 1, 8, 8, 8)}


@pytest.mark.parametrize("name", list_medical_models())
def test_forward_backward_every_model(name):
    model = create_medical_model(name, **SMALL_TEST_CONFIGS[name])
    x = torch.randn(*INPUTS[name])
    y = model(x)
    assert y.shape[0] == x.shape[0] and y.shape[2:] == x.shape[2:] and torch.isfinite(y).all()
    y.square().mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


@pytest.mark.parametrize("scan", ["hilbert", "local", "zigzag"])
def test_vm_unet_any_scan(scan):
    model = create_medical_model("vm_unet", scan=scan, num_classes=3, **SMALL_TEST_CONFIGS["vm_unet"])
    assert model.encoder.stages[0].blocks[0].mixer.scan.scan_name == scan
    assert model(torch.randn(1, 1, 32, 32)).shape == (1, 3, 32, 32)  # grey input repeated to 3 channels


def test_mhs_vm_uses_multihead_scan():
    model = create_medical_model("mhs_vm_unet", heads=3, **SMALL_TEST_CONFIGS["mhs_vm_unet"])
    mixer = model.encoder.stages[1].blocks[0].mixer  # dim 16 -> 3 heads of 5 channels
    assert mixer.scan.scan_name == "multihead" and mixer.scan.num_directions == 12
    assert mixer.ssm.d_inner == 5 and mixer.ssm.num_directions == 12 and mixer.ssm.dt_rank == 1
    assert not hasattr(mixer, "out_proj")  # MHS-VM's gate block has no output projection


def test_lightm_unet_3d_scan_rules():
    LightMUNet(3, init_filters=8, blocks_down=(1, 1), blocks_up=(1,), d_state=2, scan="bidirectional")
    with pytest.raises(ValueError, match="sequence-level scans"):
        LightMUNet(3, init_filters=8, blocks_down=(1, 1), blocks_up=(1,), scan="cross")
    m2d = LightMUNet(2, init_filters=8, blocks_down=(1, 1), blocks_up=(1,), d_state=2, scan="cross")
    assert m2d(torch.randn(1, 1, 8, 8)).shape == (1, 2, 8, 8)
    with pytest.raises(ValueError, match="divisible by 2"):
        m2d(torch.randn(1, 1, 9, 8))


def test_full_size_parameter_counts():
    # measured from the released architectures (see docs): VM-UNet 27.43M (the paper's figure),
    # LightM-UNet 2D 5.01M and 3D 5.02M — not the "~1M" of its README/paper (MrBlankness/LightM-UNet#30).
    assert count_params(create_medical_model("vm_unet")) == 27_427_561
    assert count_params(create_medical_model("mhs_vm_unet")) == 17_257_129
    assert count_params(create_medical_model("lightm_unet_2d")) == 5_011_765
    assert count_params(create_medical_model("lightm_unet_3d", num_classes=3)) == 5_015_766


def test_flop_count_rules():
    model = create_medical_model("lightm_unet_2d", **SMALL_TEST_CONFIGS["lightm_unet_2d"])
    c = count_flops(model, (1, 3, 16, 16))
    # scan FLOPs by hand: every RVM layer runs one scan with D = expand*C = 2C channels, N = 4, L = tokens;
    # stage i>0 starts with a down-sampling RVM layer that runs at the previous width and resolution
    expected = 0
    for C, L in [(8, 256)] * 3 + [(16, 64)] * 3 + [(32, 16)] * 2:
        expected += 9 * L * 2 * C * 4 + L * 2 * C  # + D skip; the z gate is applied inside the op
        expected += L * 2 * C
    assert c.scan_flops == expected
    assert c.macs > 0 and c.flops == c.macs + c.scan_flops and c.params == count_params(model)
    lin = torch.nn.Linear(10, 20, bias=False)
    assert count_flops(lin, (3, 10)).macs == 3 * 10 * 20


def test_load_from_official_vmamba_checkpoint(fixtures_dir):
    """The official VMamba v0 fixture (legacy key names) loads into the VM-UNet encoder, whose stage outputs then
    equal the official per-stage features; decoder blocks are initialised from the mirrored encoder stages."""
    fx = fixtures_dir / "vmamba_v0"
    model = VMUNet(num_classes=2, depths=(1, 1, 2, 1), depths_decoder=(1, 1, 1, 1), dims=24).eval()
    report = model.load_from(str(fx / "checkpoint.pth"))
    assert report["encoder_missing"] == []
    assert all(k.startswith(("norm", "head")) or k.startswith("classifier") for k in report["unused"])
    assert len(report["decoder_loaded"]) > 0
    torch.testing.assert_close(model.decoder.stages[3].blocks[0].mixer.in_proj.weight,
                               model.encoder.stages[0].blocks[0].mixer.in_proj.weight)
    x = torch.load(fx / "input.pt", weights_only=True)
    feats = torch.load(fx / "features.pt", weights_only=True)
    with torch.no_grad():
        h = model.encoder.stem(x)
        outs = []
        for stage in model.encoder.stages:
            h = stage.run_blocks(stage.resample(h))
            outs.append(h)
    for ours, ref in zip(outs, feats):
        torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="no tensor of this checkpoint fits"):
        model.load_from({"foo.weight": torch.zeros(3)})
