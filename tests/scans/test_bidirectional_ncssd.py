"""Vim's bidirectional scan (orders, class-token placement, the sequence mixer) and VSSD's NC-SSD mixer."""
import pytest
import torch

from visionssm.kernels import selective_scan
from visionssm.layers.mamba_block import MambaSequenceMixer
from visionssm.layers.ncssd import NonCausalSSD, ncssd_mixer
from visionssm.scans import build_scan, list_scans
from visionssm.scans.bidirectional import sequence_orders, token_sequence_orders


def test_registered():
    assert "bidirectional" in list_scans() and "ncssd" not in list_scans()
    with pytest.raises(ValueError, match="token mixer, not a scan order.*visionssm.layers.ncssd"):
        build_scan("ncssd")


@pytest.mark.parametrize("H,W", [(4, 6), (5, 7), (1, 5)])
def test_bidirectional_grid_orders(H, W):
    orders = build_scan("bidirectional").token_orders(H, W)
    L = H * W
    assert orders.shape == (2, L)
    assert orders[0].tolist() == list(range(L))
    assert orders[1].tolist() == list(range(L - 1, -1, -1))


def test_bidirectional_orders_hand_checked_2x3():
    assert build_scan("bidirectional").token_orders(2, 3).tolist() == [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]]


@pytest.mark.parametrize("H,W", [(4, 6), (5, 7), (3, 3)])
def test_bidirectional_merge_is_mean(H, W):
    scan = build_scan("bidirectional")
    x = torch.randn(2, 3, H, W)
    assert torch.allclose(scan.merge(scan.scan(x), H, W), x)


@pytest.mark.parametrize("H,W", [(2, 3), (3, 3), (4, 6), (5, 7)])
def test_class_token_matches_vim(H, W):
    """Vim inserts the class token at M // 2 and the backward branch flips the whole sequence."""
    M = H * W
    p = M // 2
    seq = token_sequence_orders(build_scan("bidirectional"), H, W, p)
    # Vim: tokens [0..p-1, cls, p..M-1] indexed 0..M; backward = the same sequence flipped
    assert seq[0].tolist() == list(range(M + 1))
    assert seq[1].tolist() == list(range(M, -1, -1))
    assert seq[1].tolist().index(p) == M - p  # the class token's step in the backward scan


def test_class_token_in_cross_orders_hand_checked():
    """2×2 cross scan with a class token between raster tokens 1 and 2 (sequence index 2)."""
    grid = build_scan("cross").token_orders(2, 2)  # [0,1,2,3], [0,2,1,3], reversed
    seq = sequence_orders(grid, 2)
    assert seq.tolist() == [[0, 1, 2, 3, 4], [0, 3, 2, 1, 4], [4, 3, 2, 1, 0], [4, 1, 2, 3, 0]]
    assert sequence_orders(grid, None) is grid


def _direction(mixer, seq, x, z, k):
    """One Vim direction written out: conv1d → SiLU → x_proj → dt_proj → scan gated by silu(z)."""
    d = mixer.d_inner
    ssm = mixer.ssm
    xs = x[:, :, seq]
    zs = z[:, :, seq]
    L = xs.shape[-1]
    w = mixer.conv1d.weight[k * d:(k + 1) * d]
    b = mixer.conv1d.bias[k * d:(k + 1) * d]
    xs = torch.nn.functional.silu(torch.nn.functional.conv1d(xs, w, b, padding=w.shape[-1] - 1, groups=d)[..., :L])
    dbl = torch.einsum("bdl,cd->bcl", xs, ssm.x_proj_weight[k])
    dt, Bs, Cs = dbl.split([ssm.dt_rank, ssm.d_state, ssm.d_state], dim=1)
    delta = torch.einsum("brl,dr->bdl", dt, ssm.dt_projs_weight[k])
    A = -torch.exp(ssm.A_logs[k * d:(k + 1) * d])
    y = selective_scan(xs, delta, A, Bs, Cs, ssm.Ds[k * d:(k + 1) * d], zs, ssm.dt_projs_bias[k], True, backend="ref")
    out = torch.zeros_like(y)
    out[:, :, seq] = y
    return out


def test_mixer_equals_two_explicit_scans():
    """out = out_proj((y_forward + flip(y_backward)) / 2), with a class token in the middle."""
    torch.manual_seed(0)
    H, W, C = 2, 3, 16
    mixer = MambaSequenceMixer(C, d_state=4, scan="bidirectional", backend="ref").eval()
    T = H * W + 1
    x = torch.randn(2, T, C)
    with torch.no_grad():
        got = mixer(x, (H, W), (H * W) // 2)
        xz = mixer.in_proj(x).transpose(1, 2)
        xs, z = xz.chunk(2, dim=1)
        fwd = torch.arange(T)
        y = (_direction(mixer, fwd, xs, z, 0) + _direction(mixer, fwd.flip(0), xs, z, 1)) / 2
        want = mixer.out_proj(y.transpose(1, 2))
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)


def test_mixer_cross_scan_sums_four_directions():
    torch.manual_seed(0)
    H, W, C = 2, 3, 16
    mixer = MambaSequenceMixer(C, d_state=4, scan="cross", backend="ref").eval()
    assert mixer.ssm.num_directions == 4 and mixer.conv1d.weight.shape[0] == 4 * mixer.d_inner
    x = torch.randn(1, H * W + 1, C)
    with torch.no_grad():
        got = mixer(x, (H, W), 3)
        xs, z = mixer.in_proj(x).transpose(1, 2).chunk(2, dim=1)
        seqs = token_sequence_orders(mixer.scan, H, W, 3)
        y = sum(_direction(mixer, seqs[k], xs, z, k) for k in range(4))  # cross merges by sum
        want = mixer.out_proj(y.transpose(1, 2))
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)


def test_mixer_gradients_reach_input_and_parameters():
    mixer = MambaSequenceMixer(8, d_state=2, scan="bidirectional")
    x = torch.randn(1, 7, 8, requires_grad=True)
    mixer(x, (2, 3), 3).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in mixer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("name,kwargs", [("multiscale", {"d_inner": 16}), ("spatial_fusion", {"d_inner": 16})])
def test_mixer_rejects_non_permutation_strategies(name, kwargs):
    with pytest.raises(ValueError, match="permutation scan"):
        MambaSequenceMixer(8, scan=build_scan(name, **kwargs))


def _ncssd_direct(x, dt, A, B, C, D, positive=True):
    """y_i = Σ_j (C_i·B_j) w_j x_j + D x_i with w = ±dt·A, one (i, j) pair at a time; head h uses group h % g."""
    b, L, h, p = x.shape
    g = B.shape[2]
    y = torch.zeros_like(x)
    for bi in range(b):
        for hi in range(h):
            gi = hi % g
            for i in range(L):
                acc = torch.zeros(p, dtype=x.dtype)
                for j in range(L):
                    w = dt[bi, j, hi] * A[hi] * (-1 if positive else 1)
                    acc = acc + torch.dot(C[bi, i, gi], B[bi, j, gi]) * w * x[bi, j, hi]
                y[bi, i, hi] = acc + D[hi] * x[bi, i, hi]
    return y


@pytest.mark.parametrize("groups,positive", [(1, True), (2, True), (1, False)])
def test_ncssd_equals_direct_formula(groups, positive):
    torch.manual_seed(0)
    b, L, h, p, n = 2, 7, 4, 3, 5
    x = torch.randn(b, L, h, p, dtype=torch.float64)
    dt = torch.nn.functional.softplus(torch.randn(b, L, h, dtype=torch.float64))
    A = -torch.rand(h, dtype=torch.float64) - 0.5
    B = torch.randn(b, L, groups, n, dtype=torch.float64)
    C = torch.randn(b, L, groups, n, dtype=torch.float64)
    D = torch.randn(h, dtype=torch.float64)
    op = NonCausalSSD(positive_dA=positive)
    got = op(x, dt, A, B, C, D)
    assert torch.allclose(got, _ncssd_direct(x, dt, A, B, C, D, positive), atol=1e-10)
    if groups == 1:  # (b, L, n) keys/queries mean one group
        assert torch.allclose(op(x, dt, A, B[:, :, 0], C[:, :, 0], D), got, atol=1e-12)


def test_ncssd_is_order_free_and_differentiable():
    """No causal mask: permuting the tokens permutes the output (every token sees all others)."""
    torch.manual_seed(0)
    b, L, h, p, n = 1, 6, 2, 3, 4
    x = torch.randn(b, L, h, p, requires_grad=True)
    dt, A = torch.rand(b, L, h), -torch.rand(h)
    B, C, D = torch.randn(b, L, 1, n), torch.randn(b, L, 1, n), torch.randn(h)
    op = ncssd_mixer("ncssd")
    y = op(x, dt, A, B, C, D)
    perm = torch.randperm(L)
    y_perm = op(x[:, perm], dt[:, perm], A, B[:, perm], C[:, perm], D)
    assert torch.allclose(y_perm, y[:, perm], atol=1e-5)
    y.sum().backward()
    assert x.grad.abs().sum() > 0


def test_ncssd_mixer_by_name_or_instance_only():
    op = NonCausalSSD(positive_dA=False)
    assert ncssd_mixer(op) is op and ncssd_mixer("ncssd").positive_dA
    with pytest.raises(ValueError, match="'ncssd' or a visionssm.layers.ncssd.NonCausalSSD"):
        ncssd_mixer("cross")


def test_class_token_in_partial_directions():
    """Directions that visit part of the grid (atrous) meet the class token at the same fraction of their length."""
    grid = torch.tensor([[0, 2], [1, 3]])  # two halves of a 2×2 grid, neither the reverse of the other
    assert sequence_orders(grid, 2).tolist() == [[0, 2, 3], [1, 2, 4]]
    with pytest.raises(ValueError, match="outside"):
        sequence_orders(grid, 5)
