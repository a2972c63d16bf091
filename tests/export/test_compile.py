"""torch.compile and torch.export over one small config per model family (CPU).

The scan is the opaque ``visionssm::selective_scan`` operator, so every model must trace into one graph:
``fullgraph=True`` fails on any graph break, and ``torch._dynamo.explain`` is asserted to report none. Most
tests use the ``aot_eager`` backend (dynamo + AOTAutograd: the whole tracing stack, the operator's fake and
backward included) because Inductor's C++ compile takes minutes per model on a small CPU; one test runs the
default Inductor backend end to end.
"""
import copy

import pytest
import torch

from .families import FAMILIES, USES_SCAN_OP, build_small

SLOW_FAMILIES = {"vmamba_v0", "vmamba_v2", "efficient_vmamba", "msvmamba", "spatial_mamba"}


def _families():
    return [pytest.param(f, marks=pytest.mark.slow) if f in SLOW_FAMILIES else f for f in FAMILIES]


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("family", _families())
def test_explain_no_graph_breaks(family):
    model, size = build_small(family)
    model.eval()
    explain = torch._dynamo.explain(model)(torch.randn(2, *size))
    reasons = [f"{b.reason.splitlines()[0]} at {b.user_stack[-1].filename}:{b.user_stack[-1].lineno}"
               for b in explain.break_reasons if b.user_stack]
    assert explain.graph_break_count == 0, reasons[:5]
    assert explain.graph_count == 1
    ops = {str(n.target) for g in explain.graphs for n in g.graph.nodes if n.op == "call_function"}
    assert any("visionssm.selective_scan" in o for o in ops) == (family in USES_SCAN_OP), \
        "the scan did not trace as the visionssm operator"


@pytest.mark.parametrize("family", _families())
def test_compile_fullgraph_inference_and_training(family):
    model, size = build_small(family, drop_path_rate=0.0)  # no random drop: compiled and eager steps compare
    x = torch.randn(2, *size)
    model.eval()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-5, atol=1e-5)

    # one training step with the backward through the operator; gradients match eager training
    eager = copy.deepcopy(model).train()
    model.train()
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    target = torch.randn(2, model.num_classes)
    loss = torch.nn.functional.mse_loss(compiled(x), target)
    loss.backward()
    ref_loss = torch.nn.functional.mse_loss(eager(x), target)
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-5)
    for (name, p), (_, q) in zip(model.named_parameters(), eager.named_parameters()):
        if q.grad is None:
            assert p.grad is None, name
            continue
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-4, msg=lambda m, n=name: f"{n}: {m}")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.step()
    optimizer.zero_grad()
    with torch.no_grad():
        assert torch.nn.functional.mse_loss(compiled(x), target) < loss


@pytest.mark.parametrize("family", _families())
def test_export_dynamic_batch(family):
    model, size = build_small(family)
    model.eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(model, (torch.randn(2, *size),), dynamic_shapes=({0: batch},))
    ops = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert any("visionssm.selective_scan" in o for o in ops) == (family in USES_SCAN_OP)
    for n in (1, 3):
        x = torch.randn(n, *size)
        with torch.no_grad():
            torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_inductor_end_to_end():
    """Default backend (Inductor, C++ codegen) with the operator left as an extern call."""
    model, size = build_small("vssd")
    model.eval()
    x = torch.randn(2, *size)
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(model, fullgraph=True)(x), model(x), rtol=1e-5, atol=1e-5)
