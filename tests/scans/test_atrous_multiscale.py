"""``atrous`` (EfficientVMamba ES2D) and ``multiscale`` (MSVMamba MS2D) against hand-computed official orders."""
import pytest
import torch
import torch.nn.functional as F

from visionssm.layers import DirectionalSSM
from visionssm.scans import build_scan, list_scans
from visionssm.scans.multiscale import half_resolution_size

SIZES = [(1, 1), (1, 5), (5, 1), (2, 2), (3, 3), (4, 6), (5, 7), (6, 4), (7, 10), (9, 9)]


def test_registered():
    assert {"atrous", "multiscale"} <= set(list_scans())


# -- atrous -------------------------------------------------------------------------------------------------------
def test_atrous_orders_4x6_match_official():
    # anchors_backbones.md §5.1, verified there against the official EfficientScan on a 4×6 grid
    expected = torch.tensor([
        [0, 2, 4, 12, 14, 16],   # rows 0::2, cols 0::2, row-major
        [6, 18, 8, 20, 10, 22],  # rows 1::2, cols 0::2, column-major
        [1, 3, 5, 13, 15, 17],   # rows 0::2, cols 1::2, row-major
        [7, 19, 9, 21, 11, 23],  # rows 1::2, cols 1::2, column-major
    ])
    assert torch.equal(build_scan("atrous").token_orders(4, 6), expected)


def test_atrous_orders_5x7_pad_to_6x8_and_mark_padding():
    # index h·7 + w of the ORIGINAL 5×7 grid; row 5 and column 7 are zero padding (-1)
    expected = torch.tensor([
        [0, 2, 4, 6, 14, 16, 18, 20, 28, 30, 32, 34],
        [7, 21, -1, 9, 23, -1, 11, 25, -1, 13, 27, -1],
        [1, 3, 5, -1, 15, 17, 19, -1, 29, 31, 33, -1],
        [8, 22, -1, 10, 24, -1, 12, 26, -1, -1, -1, -1],
    ])
    assert torch.equal(build_scan("atrous").token_orders(5, 7), expected)


def _official_atrous_scan(x):
    """The official EfficientScan semantics written with strided slices (independent of the index tables)."""
    H, W = x.shape[-2:]
    x = F.pad(x, (0, W % 2, 0, H % 2))
    return torch.stack([
        x[:, :, 0::2, 0::2].flatten(2),
        x[:, :, 1::2, 0::2].transpose(-1, -2).flatten(2),
        x[:, :, 0::2, 1::2].flatten(2),
        x[:, :, 1::2, 1::2].transpose(-1, -2).flatten(2),
    ], dim=1)


@pytest.mark.parametrize("H,W", SIZES)
def test_atrous_scan_equals_strided_slices_and_merge_inverts_exactly(H, W):
    scan = build_scan("atrous")
    x = torch.randn(2, 3, H, W)
    xs = scan.scan(x)
    assert torch.equal(xs, _official_atrous_scan(x))
    assert torch.equal(scan.merge(xs, H, W), x)  # each pixel written by exactly one direction, padding cropped


@pytest.mark.parametrize("H,W", SIZES)
def test_atrous_visits_every_pixel_once(H, W):
    orders = build_scan("atrous").token_orders(H, W)
    assert orders.shape == (4, ((H + 1) // 2) * ((W + 1) // 2))
    visited = orders[orders >= 0]
    assert torch.equal(visited.sort().values, torch.arange(H * W))


def test_atrous_gradients_reach_input_and_every_parameter():
    scan = build_scan("atrous")
    ssm = DirectionalSSM(6, d_state=4, dt_rank=2, num_directions=4, backend="ref")
    x = torch.randn(1, 6, 5, 7, requires_grad=True)
    scan(x, ssm).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ssm.parameters())


# -- multiscale ---------------------------------------------------------------------------------------------------
def test_multiscale_orders_4x6():
    orders = build_scan("multiscale", d_inner=4).token_orders(4, 6)
    # half-res grid 2×3 = [[0, 1, 2], [3, 4, 5]]: [row-major reversed | column-major | column-major reversed]
    half = [5, 4, 3, 2, 1, 0, 0, 3, 1, 4, 2, 5, 5, 2, 4, 1, 3, 0]
    assert torch.equal(orders[0], torch.tensor(half + [-1] * 6))
    assert torch.equal(orders[1], torch.arange(24))


def test_multiscale_orders_5x7():
    scan = build_scan("multiscale", d_inner=4)
    orders = scan.token_orders(5, 7)
    # half-res grid ceil(5/2)×ceil(7/2) = 3×4 (7×7 conv, stride 2, padding 3)
    half = list(range(11, -1, -1)) + [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11] + [11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0]
    assert torch.equal(orders[0], torch.tensor(half))
    assert torch.equal(orders[1], torch.tensor(list(range(35)) + [-1]))
    assert scan.direction_grid(5, 7, 0) == (3, 4) and scan.direction_grid(5, 7, 1) == (5, 7)


def test_multiscale_needs_channels():
    with pytest.raises(ValueError, match="d_inner"):
        build_scan("multiscale")


def _official_multiscale(scan, ssm, x, raw, norm):
    """MS2D as the official SS2D.forward writes it (explicit flips / transposes / views), in our own code."""
    B, C, H, W = x.shape
    half = F.silu(scan.conv(raw))
    h, w = half.shape[-2:]
    rows, cols = half.flatten(2), half.transpose(2, 3).flatten(2)
    seq = torch.cat([rows.flip(-1), cols, cols.flip(-1)], dim=2)
    y_half = norm(ssm(seq[:, None], directions=slice(0, 1))[:, 0].transpose(1, 2))  # (B, 3hw, C)
    y_full = norm(ssm(x.flatten(2)[:, None], directions=slice(1, 2))[:, 0].transpose(1, 2))
    n = h * w
    a = y_half[:, :n].flip(1).reshape(B, h, w, C)
    b = y_half[:, n:2 * n].reshape(B, w, h, C).transpose(1, 2)
    c = y_half[:, 2 * n:].flip(1).reshape(B, w, h, C).transpose(1, 2)
    up = F.interpolate((a + b + c).permute(0, 3, 1, 2), size=(H, W), mode="bilinear", align_corners=False)
    return y_full.reshape(B, H, W, C).permute(0, 3, 1, 2) + up


@pytest.mark.parametrize("H,W", [(4, 6), (5, 7), (1, 3), (8, 8)])
def test_multiscale_forward_matches_official_composition(H, W):
    C = 6
    scan = build_scan("multiscale", d_inner=C)
    ssm = DirectionalSSM(C, d_state=2, dt_rank=2, num_directions=2, backend="ref")
    norm = torch.nn.LayerNorm(C)
    with torch.no_grad():
        norm.weight.normal_(1, 0.1)
        norm.bias.normal_(0, 0.1)
    x, raw = torch.randn(2, C, H, W), torch.randn(2, C, H, W)
    out = scan(x, ssm, raw=raw, norm=norm)
    assert out.shape == (2, C, H, W)
    torch.testing.assert_close(out, _official_multiscale(scan, ssm, x, raw, norm), atol=1e-5, rtol=1e-5)


def test_multiscale_half_branch_carries_state_across_segments():
    # one sequence: changing the first segment's input changes the outputs of the later segments
    C = 4
    scan = build_scan("multiscale", d_inner=C)
    ssm = DirectionalSSM(C, d_state=2, dt_rank=1, num_directions=2, backend="ref")
    H, W = 4, 4
    h, w = half_resolution_size(H, W)
    xs_half, _ = scan.scan(torch.randn(1, C, H, W))
    y = ssm(xs_half, directions=slice(0, 1))
    xs2 = xs_half.clone()
    xs2[..., : h * w] += 1.0
    y2 = ssm(xs2, directions=slice(0, 1))
    assert (y2[..., h * w:] - y[..., h * w:]).abs().max() > 1e-4


def test_multiscale_gradients_reach_input_conv_and_every_parameter():
    C = 4
    scan = build_scan("multiscale", d_inner=C)
    ssm = DirectionalSSM(C, d_state=2, dt_rank=1, num_directions=2, backend="ref")
    x = torch.randn(1, C, 5, 7, requires_grad=True)
    raw = torch.randn(1, C, 5, 7, requires_grad=True)
    scan(x, ssm, raw=raw).square().sum().backward()
    assert x.grad.abs().sum() > 0 and raw.grad.abs().sum() > 0
    for p in list(ssm.parameters()) + list(scan.parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize("name,K,kwargs", [("atrous", 4, {}), ("multiscale", 2, {"d_inner": 6})])
def test_ref_and_torch_backends_agree(name, K, kwargs):
    scan = build_scan(name, **kwargs)
    ref = DirectionalSSM(6, d_state=4, dt_rank=2, num_directions=K, backend="ref")
    fast = DirectionalSSM(6, d_state=4, dt_rank=2, num_directions=K, backend="torch")
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(2, 6, 5, 7)
    torch.testing.assert_close(scan(x, fast), scan(x, ref), atol=1e-5, rtol=1e-5)
