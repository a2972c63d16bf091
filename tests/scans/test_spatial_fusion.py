"""Spatial-Mamba structure-aware state fusion: orders, fusion maths, official kernel layout, no stale cache."""
import pytest
import torch
import torch.nn.functional as F

from visionssm.kernels import selective_scan
from visionssm.layers import DirectionalSSM
from visionssm.scans import build_scan, list_scans
from visionssm.scans.spatial_fusion import SpatialFusionScan, dilate_kernel


def _strategy(d=6, randomize=True, **kwargs):
    s = build_scan("spatial_fusion", d_inner=d, **kwargs)
    if randomize:
        with torch.no_grad():
            s.kernels.normal_(0, 1 / 3)
            s.alpha.uniform_(0.5, 1.5)
    return s


def _clamped_reference(h, kernels, alpha, dilations):
    """Independent fusion: each tap reads h at clamped (replicate) indices, as the official CUDA kernel does."""
    _, _, H, W = h.shape
    out = torch.zeros_like(h)
    for a, k, r in zip(alpha, kernels, dilations):
        for i, dy in enumerate((-r, 0, r)):
            rows = (torch.arange(H) + dy).clamp(0, H - 1)
            for j, dx in enumerate((-r, 0, r)):
                cols = (torch.arange(W) + dx).clamp(0, W - 1)
                out = out + a * k[:, 0, i, j].view(1, -1, 1, 1) * h[:, :, rows][:, :, :, cols]
    return out


def test_registered_with_one_row_major_direction():
    assert "spatial_fusion" in list_scans()
    s = _strategy(randomize=False)
    assert s.num_directions == 1
    torch.testing.assert_close(s.token_orders(3, 5), torch.arange(15).view(1, 15))


def test_merged_kernel_has_the_official_tap_layout():
    """The 11×11 eval kernel: dilation-1 taps at rows/cols 4..6, dilation 3 at {2,5,8}, dilation 5 at {0,5,10}."""
    s = _strategy(d=4)
    merged = s.merged_kernel()
    assert merged.shape == (4, 1, 11, 11)
    expected = torch.zeros(4, 1, 11, 11)
    for a, k, taps in zip(s.alpha, s.kernels, ([4, 5, 6], [2, 5, 8], [0, 5, 10])):
        for i, ti in enumerate(taps):
            for j, tj in enumerate(taps):
                expected[:, :, ti, tj] += a * k[:, :, i, j]
    torch.testing.assert_close(merged, expected.detach())
    assert int((merged[0, 0] != 0).sum()) == 9 + 8 + 8  # the centre tap is shared by the three kernels


def test_dilate_kernel_rejects_oversized():
    with pytest.raises(ValueError, match="dilation 7"):
        dilate_kernel(torch.ones(2, 1, 3, 3), 7, 11)


@pytest.mark.parametrize("H,W", [(5, 7), (1, 9), (12, 4), (2, 2)])
def test_fusion_matches_clamped_index_reference(H, W):
    s = _strategy(d=3)
    h = torch.randn(2, 3, H, W)
    ref = _clamped_reference(h, s.kernels.detach(), s.alpha.detach(), s.dilations)
    with torch.no_grad():
        torch.testing.assert_close(s.fuse(h, "dilated"), ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(s.fuse(h, "merged"), ref, atol=1e-5, rtol=1e-5)


def test_constant_map_is_scaled_everywhere_including_borders():
    """Replicate padding: a constant state map stays constant (zero padding would dim the borders)."""
    s = _strategy(d=2)
    h = torch.full((1, 2, 6, 5), 2.0)
    gain = (s.alpha.view(-1, 1) * s.kernels.sum((2, 3, 4))).sum(0)  # (d,)
    with torch.no_grad():
        out = s.fuse(h, "merged")
    torch.testing.assert_close(out, 2.0 * gain.detach().view(1, 2, 1, 1).expand_as(out))


def _manual_forward(s, ssm, x):
    """Row-major scan with the op returning states, official fusion, C contraction and D·u, written out by hand."""
    Bsz, d, H, W = x.shape
    u = x.flatten(2)
    delta, Bs, Cs = ssm.project(u.unsqueeze(1))
    A = -torch.exp(ssm.A_logs.float())
    h = selective_scan(u, delta, A, Bs, None, delta_bias=ssm.dt_projs_bias.reshape(-1), delta_softplus=True,
                       backend="ref")  # (B, d, N, L)
    N = h.shape[2]
    fused = torch.stack([_clamped_reference(h[:, :, n].reshape(Bsz, d, H, W), s.kernels, s.alpha, s.dilations)
                         for n in range(N)], 2).flatten(3)
    y = (fused * Cs[:, 0].unsqueeze(1)).sum(2) + u * ssm.Ds.view(-1, 1)
    return y.view(Bsz, d, H, W)


@pytest.mark.parametrize("d_state", [1, 3])
def test_forward_equals_hand_written_sasf(d_state):
    d = 6
    s = _strategy(d=d)
    ssm = DirectionalSSM(d, d_state=d_state, dt_rank=2, num_directions=1, backend="ref")
    x = torch.randn(2, d, 5, 7)
    with torch.no_grad():
        torch.testing.assert_close(s(x, ssm), _manual_forward(s, ssm, x), atol=1e-5, rtol=1e-5)


def test_identity_fusion_reduces_to_plain_mamba():
    """With a delta kernel (alpha = [1, 0, 0]) SASF is the ordinary row-major selective scan y = <h, C> + D·u."""
    d = 4
    s = _strategy(d=d, randomize=False)
    with torch.no_grad():
        s.kernels.zero_()
        s.kernels[0, :, :, 1, 1] = 1.0
        s.alpha.copy_(torch.tensor([1.0, 0.0, 0.0]))
    ssm = DirectionalSSM(d, d_state=2, dt_rank=1, num_directions=1)
    x = torch.randn(2, d, 3, 5)
    with torch.no_grad():
        plain = ssm(x.flatten(2).unsqueeze(1))[:, 0].view_as(x)
        torch.testing.assert_close(s.eval()(x, ssm), plain, atol=1e-5, rtol=1e-5)


def test_training_and_eval_fusion_agree():
    d = 6
    s = _strategy(d=d)
    ssm = DirectionalSSM(d, d_state=1, dt_rank=1, num_directions=1)
    x = torch.randn(2, d, 7, 9)
    y_train = s.train()(x, ssm)
    with torch.no_grad():
        y_eval = s.eval()(x, ssm)
    assert (y_train.detach() - y_eval).abs().max() < 1e-5


def test_gradients_reach_input_and_every_parameter():
    d = 4
    s = _strategy(d=d).train()
    ssm = DirectionalSSM(d, d_state=1, dt_rank=1, num_directions=1)
    x = torch.randn(1, d, 4, 5, requires_grad=True)
    s(x, ssm).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in list(s.named_parameters()) + list(ssm.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_eval_result_follows_weight_changes():
    """The official model caches its merged kernel at the first eval forward; ours must not go stale."""
    d = 4
    s = _strategy(d=d).eval()
    ssm = DirectionalSSM(d, d_state=1, dt_rank=1, num_directions=1)
    x = torch.randn(1, d, 5, 5)
    with torch.no_grad():
        before = s(x, ssm)
        fresh = _strategy(d=d).eval()
        s.load_state_dict(fresh.state_dict())
        after = s(x, ssm)
        torch.testing.assert_close(after, fresh(x, ssm))
    assert (after - before).abs().max() > 1e-3


def test_clear_errors():
    s = _strategy(d=4, randomize=False)
    with pytest.raises(ValueError, match="num_directions=1"):
        s(torch.randn(1, 4, 3, 3), DirectionalSSM(4, d_state=1, dt_rank=1, num_directions=4))
    with pytest.raises(ValueError, match="d_inner=4"):
        s(torch.randn(1, 5, 3, 3), DirectionalSSM(5, d_state=1, dt_rank=1, num_directions=1))
    with pytest.raises(ValueError, match="unknown fusion"):
        SpatialFusionScan(4, fusion="fft")


def test_merged_fusion_is_plain_conv_with_replicate_padding():
    """Document the eval path: one depthwise conv of the merged kernel on a 5-pixel replicate-padded map."""
    s = _strategy(d=3)
    h = torch.randn(1, 3, 6, 8)
    with torch.no_grad():
        expected = F.conv2d(F.pad(h, (5, 5, 5, 5), mode="replicate"), s.merged_kernel(), groups=3)
        torch.testing.assert_close(s.eval().fuse(h), expected)
