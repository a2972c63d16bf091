"""Token pruning: exact hidden-state alignment through the op, compaction, configs, scores, FLOPs."""
import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.benchmark import count_flops
from visionssm.kernels import available_backends, selective_scan
from visionssm.pruning import PruningConfig, aligned_delta, compact_steps, num_kept, select_tokens, token_scores

BACKENDS = [b for b in ("ref", "torch", "numba") if b in available_backends()]


def _scan_inputs(Bsz=2, D=6, N=4, L=17):
    u, dt = torch.randn(Bsz, D, L), torch.randn(Bsz, D, L)
    A = -torch.rand(D, N) - 0.5
    Bm, Cm = torch.randn(Bsz, N, L), torch.randn(Bsz, N, L)
    return u, dt, A, Bm, Cm, torch.randn(D), torch.randn(D)


@pytest.mark.parametrize("backend", BACKENDS)
def test_aligned_scan_states_equal_the_dense_scan_over_kept_tokens(backend):
    """Δ = 0 at pruned steps: the hidden state at every kept step is the dense recurrence's over the kept tokens."""
    u, dt, A, Bm, Cm, D, bias = _scan_inputs()
    k = 8
    keep = torch.zeros(2, 17, dtype=torch.bool)
    keep[0, torch.randperm(17)[:k]] = True
    keep[1, torch.randperm(17)[:k]] = True
    delta = aligned_delta(dt, bias, keep.unsqueeze(1))
    steps = compact_steps(keep, k)  # (B, k)

    def take(t):
        return torch.gather(t, 2, steps.unsqueeze(1).expand(-1, t.shape[1], -1))
    y_al = selective_scan(u, delta, A, Bm, Cm, D, None, None, False, backend=backend)
    y_dense = selective_scan(take(u), take(dt), A, take(Bm), take(Cm), D, None, bias, True, backend=backend)
    torch.testing.assert_close(take(y_al), y_dense, atol=1e-5, rtol=1e-5)
    if backend != "numba":  # the hidden-state output (C=None) has no numba kernel for d_state > 1
        h_al = selective_scan(u, delta, A, Bm, None, None, None, None, False, backend=backend)
        h_dense = selective_scan(take(u), take(dt), A, take(Bm), None, None, None, bias, True, backend=backend)
        idx = steps[:, None, None, :].expand(-1, h_al.shape[1], h_al.shape[2], -1)
        torch.testing.assert_close(torch.gather(h_al, 3, idx), h_dense, atol=1e-5, rtol=1e-5)
        # a pruned step carries the previous step's state unchanged
        h_prev = torch.cat([torch.zeros_like(h_al[..., :1]), h_al[..., :-1]], dim=-1)
        pruned = ~keep[:, None, None, :].expand_as(h_al)
        assert torch.equal(h_al[pruned], h_prev[pruned])


def _pruned_model(cfg, **kw):
    torch.manual_seed(0)
    model = timm.create_model("test_plainmamba", num_classes=5, depth=4, **kw).eval()
    with torch.no_grad():  # larger weights than the init so that the scan matters
        for blk in model.blocks:
            blk.mixer.direction_Bs.normal_(0, 1.0)
            blk.mixer.dt_proj.bias.add_(2.0)
    model.set_pruning(cfg)
    return model


@pytest.mark.parametrize("backend", BACKENDS)
def test_compaction_equals_aligned_in_place(backend):
    x = torch.randn(2, 3, 64, 80)
    cfg = dict(layers=(1, 2), keep_ratio=0.6)
    inplace = _pruned_model(dict(cfg, compact=False), backend=backend)
    compact = _pruned_model(dict(cfg, compact=True), backend=backend)
    with torch.no_grad():
        a, b = inplace.forward_features(x), compact.forward_features(x)
    assert a.shape == b.shape == (2, PruningConfig(**cfg).kept_counts(20)[-1], 32)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("scan_params", ["raster", "token"])
def test_keep_all_equals_dense(scan_params):
    x = torch.randn(1, 3, 64, 64)
    dense = _pruned_model(None, scan_params=scan_params)
    with torch.no_grad():
        ref = dense.forward_features(x)
        for compact in (False, True):
            dense.set_pruning(dict(layers=(1,), keep_ratio=1.0, compact=compact))
            torch.testing.assert_close(dense.forward_features(x), ref, atol=1e-5, rtol=1e-5)


def test_naive_changes_neighbours_and_runs():
    x = torch.randn(2, 3, 64, 64)
    aligned = _pruned_model(dict(layers=(1,), keep_ratio=0.5))
    naive = _pruned_model(dict(layers=(1,), keep_ratio=0.5, method="naive"))
    naive_raster = _pruned_model(dict(layers=(1,), keep_ratio=0.5, method="naive", naive_order="raster"))
    with torch.no_grad():
        a, n, r = aligned(x), naive(x), naive_raster(x)
    assert a.shape == n.shape == r.shape == (2, 5)
    assert not torch.allclose(a, n, atol=1e-4) and not torch.allclose(n, r, atol=1e-4)


def test_scores_and_selection():
    y = torch.tensor([[[1.0, -3.0], [0.5, 0.5], [-1.0, -1.0]]])  # (B=1, T=3, E=2)
    assert token_scores(y, "clipped").tolist() == [[1.0, 1.0, 0.0]]
    assert token_scores(y, "unclipped").tolist() == [[-2.0, 1.0, -2.0]]
    assert token_scores(y, "l1").tolist() == [[4.0, 1.0, 2.0]]
    torch.testing.assert_close(token_scores(y, "l2"), torch.tensor([[10 ** 0.5, 0.5 ** 0.5, 2 ** 0.5]]))
    score = torch.tensor([[0.1, 0.9, 0.5, 0.7]])
    assert select_tokens(score, 2).tolist() == [[1, 3]]
    assert select_tokens(score, 2, order="score").tolist() == [[1, 3]]
    assert select_tokens(score, 3, order="score").tolist() == [[1, 3, 2]]
    assert select_tokens(score, 2, valid=torch.tensor([[True, False, True, True]])).tolist() == [[2, 3]]
    assert num_kept(196, 0.7) == 138 and num_kept(3, 0.1) == 1


def test_config_from_kwargs_dicts_and_errors():
    model = timm.create_model("test_plainmamba", depth=4, pruning=dict(layers=[2, 1], keep_ratio=0.5, score="l2"))
    assert model.pruning == PruningConfig(layers=(1, 2), keep_ratio=0.5, score="l2")
    assert PruningConfig.build(None) is None
    with pytest.raises(ValueError, match="keep_ratio"):
        PruningConfig(layers=(1,), keep_ratio=0.0)
    with pytest.raises(ValueError, match="unknown score 'max'"):
        PruningConfig(layers=(1,), score="max")
    with pytest.raises(TypeError, match="unknown keys \\['ratio'\\]"):
        PruningConfig.build(dict(layers=(1,), ratio=0.5))
    with pytest.raises(ValueError, match=r"pruning layers \[0\] out of range"):
        model.set_pruning(dict(layers=(0,)))  # layer 0 is followed by the DW-conv that needs the full grid
    with pytest.raises(ValueError, match="turn pruning off"):
        model.forward_intermediates(torch.randn(1, 3, 64, 64))


def test_config_from_an_mmengine_config():
    pytest.importorskip("mmengine")
    from mmengine.config import Config

    from visionssm.mm.registry import MODELS
    cfg = Config(dict(model=dict(type="visionssm.TimmClassifier", model_name="test_plainmamba", num_classes=4,
                                 depth=4, pruning=dict(layers=(2,), keep_ratio=0.5, method="naive"))))
    clf = MODELS.build(cfg.model)
    assert clf.model.pruning.method == "naive" and clf.model.pruning.layers == (2,)


def test_flops_fall_with_compaction_only():
    dense = _pruned_model(None)
    size = (3, 64, 64)
    f_dense = count_flops(dense, size).flops
    dense.set_pruning(dict(layers=(1,), keep_ratio=0.5, compact=False))
    f_inplace = count_flops(dense, size).flops
    dense.set_pruning(dict(layers=(1,), keep_ratio=0.5))
    f_compact = count_flops(dense, size).flops
    dense.set_pruning(dict(layers=(1,), keep_ratio=0.5, method="naive"))
    f_naive = count_flops(dense, size).flops
    assert f_compact < f_dense and f_naive < f_dense
    assert f_inplace >= f_dense  # masking saves nothing
