"""Dynamic int8: Linear/pointwise layers quantized, the scan's parameters and norms float32, outputs close."""
import pytest
import timm
import torch
from torch import nn

import visionssm  # noqa: F401
from visionssm.export.quantize import PointwiseLinear, int8_linear_count, pointwise_convs_to_linear, quantize_int8


def _model():
    return timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 2, 1), dims=16, num_classes=5).eval()


def test_pointwise_linear_is_the_same_convolution():
    conv = nn.Conv2d(6, 9, 1)
    x = torch.randn(2, 6, 5, 4)
    torch.testing.assert_close(PointwiseLinear(conv)(x), conv(x), rtol=1e-5, atol=1e-6)
    model = _model()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = model(x)
        got = pointwise_convs_to_linear(model)(x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_int8_round_trip_keeps_the_scan_float32():
    model = _model()
    x = torch.randn(4, 3, 32, 32)
    q = quantize_int8(model)
    assert int8_linear_count(q) >= 10  # in/out projections, MLPs, head
    assert not any(type(m) is nn.Linear for m in q.modules())  # every Linear outside the scan is int8
    for name, p in q.named_parameters():  # what stays a float parameter: the SSM, norms, convs with a kernel
        assert p.dtype == torch.float32, name
    ssm = [n for n, _ in q.named_parameters() if ".ssm." in n]
    assert any("A_logs" in n for n in ssm) and any("dt_projs" in n for n in ssm) and any(n.endswith("Ds") for n in ssm)
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    norms = [m for n, m in q.named_modules() if "norm" in n.rsplit(".", 1)[-1]]
    assert norms and not any(isinstance(m, DynamicLinear) for m in norms)
    with torch.no_grad():
        want, got = model(x), q(x)
    assert got.shape == want.shape and torch.isfinite(got).all()
    assert (got - want).abs().max() < 0.1 * (1 + want.abs().max())
    assert model is not q and int8_linear_count(model) == 0  # the float model is left alone


def test_onnx_int8_file_runs(tmp_path):
    pytest.importorskip("onnxruntime", reason="the [deploy] extra is not installed")
    import onnx

    from visionssm.export.onnx import export_onnx, ort_session
    from visionssm.export.quantize import quantize_onnx_int8

    model = pointwise_convs_to_linear(_model())
    fp32 = export_onnx(model, tmp_path / "m.onnx", torch.randn(1, 3, 32, 32)).path
    int8 = quantize_onnx_int8(fp32, tmp_path / "m_int8.onnx")
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert ops & {"DynamicQuantizeMatMul", "MatMulInteger", "DynamicQuantizeLinear"}
    x = torch.randn(2, 3, 32, 32)
    got = ort_session(int8).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = model(x)
    assert (torch.from_numpy(got) - want).abs().max() < 0.1 * (1 + want.abs().max())
