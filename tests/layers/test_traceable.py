"""Scans and layers trace whole under torch.compile, torch.export and timm's torch.fx feature extraction.

The selective-scan op itself is the kernels' business: the fast tests swap it for a traceable stand-in (so they
check exactly the code around it), and the slow test runs the real op and counts only the graph breaks that are
not inside ``visionssm.kernels`` (all of them once the op is a torch.library custom op).
"""
import os

import pytest
import torch
import torch.nn.functional as F
from timm.models._features_fx import create_feature_extractor, get_graph_node_names
from torch import nn

import visionssm.kernels
import visionssm.layers.ssm as ssm_module
from visionssm.layers import SS2D
from visionssm.layers.mamba_block import MambaSequenceMixer
from visionssm.layers.ncssd import NonCausalSSD
from visionssm.scans import list_scans

STRATEGIES = list_scans()
KERNELS_DIR = os.path.dirname(os.path.abspath(visionssm.kernels.__file__))


def _stand_in_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False, **_):
    """Shape-correct, traceable stand-in for the op (not its recurrence): h_t = Σ_{s≤t} Δ_s·u_s·A·B_s, so the
    result still depends on the token order; C=None returns the states (batch, D, N, L) like the op."""
    batch, channels, L = u.shape
    if delta_bias is not None:
        delta = delta + delta_bias.view(1, -1, 1)
    if delta_softplus:
        delta = F.softplus(delta)
    groups = B.shape[1] if B.dim() == 4 else 1
    B = B.view(batch, groups, 1, -1, L).expand(-1, -1, channels // groups, -1, -1).reshape(batch, channels, -1, L)
    h = ((delta * u).unsqueeze(2) * B * A.unsqueeze(-1).tanh()).cumsum(-1)
    if C is None:
        return h
    C = C.view(batch, groups, 1, -1, L).expand(-1, -1, channels // groups, -1, -1).reshape(batch, channels, -1, L)
    y = (h * C).sum(2)
    if D is not None:
        y = y + D.view(1, -1, 1) * u
    return y


@pytest.fixture
def stand_in_op(monkeypatch):
    monkeypatch.setattr(ssm_module, "selective_scan", _stand_in_scan)


def _layer(name: str, **kwargs) -> SS2D:
    torch.manual_seed(0)
    return SS2D(8, scan=name, d_state=2, channels_first=False, strategy_hooks=name == "multiscale", **kwargs).eval()


def _fake_tensors_cached(module: nn.Module) -> bool:
    """Whether any index cache in ``module`` holds a tensor from a trace (fake or functional) instead of a real one."""
    def tensors(value):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (tuple, list)):
            for v in value:
                yield from tensors(v)
        elif isinstance(value, dict):
            for v in value.values():
                yield from tensors(v)
    for m in module.modules():
        for attr in ("_order_cache", "_index_cache", "_sequence_order_cache"):
            for t in tensors(getattr(m, attr, {})):
                if type(t) is not torch.Tensor:
                    return True
    return False


@pytest.mark.parametrize("name", STRATEGIES)
def test_ss2d_compiles_fullgraph_around_the_op(name, stand_in_op):
    """No graph break anywhere outside the op: fullgraph=True raises on the first one."""
    torch._dynamo.reset()
    layer = _layer(name)
    x = torch.randn(2, 5, 7, 8)
    compiled = torch.compile(layer, backend="eager", fullgraph=True)
    with torch.no_grad():
        assert torch.allclose(compiled(x), layer(x), atol=1e-5)
    assert not _fake_tensors_cached(layer)


@pytest.mark.parametrize("name,strict", [("atrous", False), ("multihead", False), ("multiscale", False),
                                         ("spatial_fusion", False), ("cascade", False), ("cross", True),
                                         ("local", True)])
def test_ss2d_exports_with_a_dynamic_batch(name, strict, stand_in_op):
    """torch.export (non-strict: fake tensors; strict: dynamo) keeps the index tensors as constants, leaves the
    strategy's caches real, and the program matches eager at another batch size."""
    layer = _layer(name)
    x = torch.randn(2, 5, 7, 8)
    program = torch.export.export(layer, (x,), dynamic_shapes=({0: torch.export.Dim("batch", max=64)},),
                                  strict=strict)
    assert not _fake_tensors_cached(layer)
    x3 = torch.randn(3, 5, 7, 8)
    with torch.no_grad():
        assert torch.allclose(program.module()(x3), layer(x3), atol=1e-5)


def test_vim_sequence_mixer_and_ncssd_compile_fullgraph(stand_in_op, monkeypatch):
    import visionssm.layers.mamba_block as mamba_block
    monkeypatch.setattr(mamba_block, "selective_scan", _stand_in_scan)
    torch._dynamo.reset()
    torch.manual_seed(0)
    mixer = MambaSequenceMixer(8, d_state=2, scan="hilbert").eval()
    x = torch.randn(2, 13, 8)  # a 3×4 grid plus a class token at position 6
    compiled = torch.compile(lambda t: mixer(t, (3, 4), 6), backend="eager", fullgraph=True)
    ncssd = NonCausalSSD()
    args = (torch.randn(2, 12, 4, 3), torch.rand(2, 12, 4), -torch.rand(4), torch.randn(2, 12, 2, 5),
            torch.randn(2, 12, 2, 5), torch.randn(4))
    with torch.no_grad():
        assert torch.allclose(compiled(x), mixer(x, (3, 4), 6), atol=1e-5)
        assert torch.allclose(torch.compile(ncssd, backend="eager", fullgraph=True)(*args), ncssd(*args), atol=1e-5)
    assert not _fake_tensors_cached(mixer)


class _Block(nn.Module):
    """A pre-norm residual SS2D block on NCHW maps, as the backbones build them."""

    def __init__(self, scan: str):
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.mixer = SS2D(8, scan=scan, d_state=1, channels_first=False, strategy_hooks=scan == "multiscale")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = x + self.mixer(self.norm(x))
        return x.permute(0, 3, 1, 2)


@pytest.mark.parametrize("name", STRATEGIES)
def test_timm_fx_feature_extraction_through_ss2d(name):
    """timm's fx tracer treats scan strategies as leaves (their index work needs concrete H, W)."""
    torch.manual_seed(0)
    block = _Block(name).eval()
    nodes = get_graph_node_names(block)[1]
    assert "mixer.scan" in nodes and "mixer.in_proj" in nodes
    extractor = create_feature_extractor(block, {"mixer.in_proj": "proj", nodes[-1]: "out"})
    x = torch.randn(2, 8, 5, 4)
    with torch.no_grad():
        out = extractor(x)
        assert torch.allclose(out["out"], block(x), atol=1e-6)
        assert out["proj"].shape == (2, 5, 4, 32)


def _breaks_outside_kernels(explanation):
    return [b for b in explanation.break_reasons
            if not any(os.path.abspath(f.filename).startswith(KERNELS_DIR) for f in b.user_stack)]


@pytest.mark.slow
@pytest.mark.parametrize("name", STRATEGIES)
def test_ss2d_graph_breaks_are_only_inside_the_op(name):
    """With the real op: every break dynamo reports lies inside visionssm.kernels (none once it is a custom op)."""
    torch._dynamo.reset()
    layer = _layer(name, backend="torch")
    explanation = torch._dynamo.explain(layer)(torch.randn(1, 4, 3, 8))
    ours = [(b.reason.splitlines()[0], [f"{f.filename}:{f.lineno}" for f in b.user_stack[-2:]])
            for b in _breaks_outside_kernels(explanation)]
    assert not ours, ours
