"""SS2D: the scan-agnostic token mixer. Checked against VMamba's SS2D maths written out by hand, across layouts,
and with every registered scan strategy."""
import math

import pytest
import torch
import torch.nn.functional as F

from visionssm.kernels.ref import selective_scan_ref
from visionssm.layers import SS2D
from visionssm.scans import build_scan, list_scans

SCANS = list_scans()


def _vmamba_ss2d_reference(layer: SS2D, x: torch.Tensor) -> torch.Tensor:
    """VMamba SS2D v0 (channels-last, z gate) spelled out: explicit cross-scan with transposes and flips."""
    ssm = layer.ssm
    xz = F.linear(x, layer.in_proj.weight)
    xi, z = xz.chunk(2, dim=-1)
    z = F.silu(z)
    xi = F.silu(layer.conv(xi.permute(0, 3, 1, 2)))
    B, D, H, W = xi.shape
    L = H * W
    x_hwwh = torch.stack([xi.reshape(B, D, L), xi.transpose(2, 3).reshape(B, D, L)], dim=1)
    xs = torch.cat([x_hwwh, x_hwwh.flip(-1)], dim=1)  # (B, 4, D, L)
    x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, ssm.x_proj_weight)
    R, N = ssm.dt_rank, ssm.d_state
    dts, Bs, Cs = torch.split(x_dbl, [R, N, N], dim=2)
    dts = torch.einsum("bkrl,kdr->bkdl", dts, ssm.dt_projs_weight)
    y = selective_scan_ref(xs.reshape(B, -1, L), dts.reshape(B, -1, L), -torch.exp(ssm.A_logs), Bs, Cs, ssm.Ds,
                           None, ssm.dt_projs_bias.reshape(-1), True).view(B, 4, D, L)
    inv = y[:, 2:4].flip(-1)
    wh = y[:, 1].view(B, D, W, H).transpose(2, 3).reshape(B, D, L)
    invwh = inv[:, 1].view(B, D, W, H).transpose(2, 3).reshape(B, D, L)
    y = (y[:, 0] + inv[:, 0] + wh + invwh).transpose(1, 2)
    y = F.layer_norm(y, (D,), layer.out_norm.weight, layer.out_norm.bias, 1e-5).view(B, H, W, D)
    return F.linear(y * z, layer.out_proj.weight)


def _perturb(layer):
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer


@pytest.mark.parametrize("hw", [(6, 6), (5, 7), (1, 9)])
def test_cross_ss2d_matches_vmamba_maths(hw):
    layer = _perturb(SS2D(16, scan="cross", d_state=4, ssm_ratio=2.0, channels_first=False)).eval()
    x = torch.randn(2, *hw, 16)
    torch.testing.assert_close(layer(x), _vmamba_ss2d_reference(layer, x), atol=1e-5, rtol=1e-5)


def test_channels_first_equals_channels_last_with_same_weights():
    cl = _perturb(SS2D(12, d_state=2, ssm_ratio=1.5, gate="none", conv_bias=False, channels_first=False)).eval()
    cf = SS2D(12, d_state=2, ssm_ratio=1.5, gate="none", conv_bias=False, channels_first=True).eval()
    own = cf.state_dict()
    cf.load_state_dict({k: v.reshape(own[k].shape) for k, v in cl.state_dict().items()})
    x = torch.randn(2, 12, 5, 6)
    torch.testing.assert_close(cf(x), cl(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2), atol=1e-5, rtol=1e-5)


def test_shapes_follow_options():
    layer = SS2D(40, d_state=3, ssm_ratio=2.0, gate="silu", d_conv=3, conv_bias=True)
    assert layer.in_proj.weight.shape == (160, 40)  # x and z
    assert layer.ssm.dt_rank == math.ceil(40 / 16)
    assert layer.ssm.x_proj_weight.shape == (4, 3 + 2 * 3, 80)
    assert layer.conv.bias is not None
    noz = SS2D(40, d_state=1, ssm_ratio=1.0, gate="none", d_conv=1, conv_bias=False, out_norm=False)
    assert noz.in_proj.weight.shape == (40, 40)
    assert isinstance(noz.conv, torch.nn.Identity) and isinstance(noz.out_norm, torch.nn.Identity)
    assert noz(torch.randn(1, 3, 4, 40)).shape == (1, 3, 4, 40)
    with pytest.raises(ValueError, match="gate must be one of"):
        SS2D(8, gate="sigmoid")


@pytest.mark.parametrize("name", SCANS)
def test_every_scan_strategy_runs_and_trains(name):
    layer = SS2D(16, scan=name, d_state=2, ssm_ratio=1.0)
    assert layer.ssm.x_proj_weight.shape[0] == layer.scan.num_directions
    x = torch.randn(2, 5, 7, 16, requires_grad=True)
    y = layer(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    missing = [n for n, p in layer.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no gradient for {missing}"


def test_the_ncssd_mixer_is_rejected_with_a_clear_error():
    with pytest.raises(ValueError, match="token mixer, not a scan order.*visionssm.layers.ncssd"):
        SS2D(16, scan="ncssd")


def test_swapping_the_scan_changes_the_output_not_the_parameters():
    cross = _perturb(SS2D(16, scan="cross", d_state=2)).eval()
    other = SS2D(16, scan="zigzag", d_state=2).eval()
    other.load_state_dict(cross.state_dict())  # same K = 4, same parameter shapes
    x = torch.randn(1, 6, 5, 16)
    assert (cross(x) - other(x)).abs().max() > 1e-4


def test_strategy_instance_and_unknown_name():
    strategy = build_scan("cross")
    assert SS2D(8, scan=strategy).scan is strategy
    with pytest.raises(ValueError, match="scan_kwargs"):
        SS2D(8, scan=strategy, scan_kwargs={"x": 1})
    with pytest.raises(KeyError, match="registered scans are"):
        SS2D(8, scan="no_such_scan")
