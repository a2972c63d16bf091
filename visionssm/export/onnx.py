"""ONNX export of any visionssm model (backbone, classifier or dense-prediction model) and its onnxruntime check.

The selective scan is exported through the ``export`` backend of ``visionssm.kernels`` (standard ONNX ops, no
custom domain), forced for every scan call while exporting, so the files run in any ONNX runtime. ``onnx`` and
``onnxruntime`` (the ``[deploy]`` extra) are imported only here.
"""
import contextlib
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

__all__ = ["DEFAULT_OPSET", "OnnxReport", "export_onnx", "flat_outputs", "ort_session", "verify_onnx"]

DEFAULT_OPSET = 17  # LayerNormalization is a single node from 17; every op used here exists in opset 17


def _require_deploy():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ImportError(f"ONNX export needs `onnx` and `onnxruntime` ({e.name} is missing): "
                          "pip install 'visionssm[deploy]'.") from e


def flat_outputs(out) -> List[torch.Tensor]:
    """Tensors of a model output (tensor, tuple/list, dict, nested) in a fixed order: the ONNX outputs."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for k in sorted(out) for t in flat_outputs(out[k])]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in flat_outputs(o)]
    raise TypeError(f"export: model output of type {type(out).__name__} holds no tensors; export a module that "
                    "returns tensors (detection post-processing stays outside the graph).")


class _Flat(nn.Module):
    """Wraps a model so the traced graph returns a flat tuple of tensors."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        return tuple(flat_outputs(self.model(*inputs)))


@dataclass
class OnnxReport:
    path: Path
    opset: int
    nodes: int
    size_mb: float
    export_s: float
    input_names: List[str]
    output_names: List[str]
    max_abs_err: Optional[float] = None
    eager_s: Optional[float] = None
    op_types: Dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        err = "" if self.max_abs_err is None else f", onnxruntime max |err| vs eager {self.max_abs_err:.2e}"
        return (f"{self.path}: opset {self.opset}, {self.nodes} nodes, {self.size_mb:.1f} MB, "
                f"exported in {self.export_s:.1f} s{err}")


def _rms_norm_symbolic(g, x, normalized_shape, weight, eps):
    """aten::rms_norm for the TorchScript exporter (it has none): x / sqrt(mean(x²) + eps) · weight."""
    from torch.onnx import symbolic_helper as sh

    axes = list(range(-len(sh._get_const(normalized_shape, "is", "normalized_shape")), 0))
    eps = None if sh._is_none(eps) else sh._get_const(eps, "f", "eps")
    eps = torch.finfo(torch.float32).eps if eps is None else eps
    mean = g.op("ReduceMean", g.op("Mul", x, x), axes_i=axes, keepdims_i=1)
    y = g.op("Div", x, g.op("Sqrt", g.op("Add", mean, g.op("Constant", value_t=torch.tensor(eps)))))
    return y if sh._is_none(weight) else g.op("Mul", y, weight)


_SYMBOLICS_DONE = False


def _register_symbolics(opset: int) -> None:
    global _SYMBOLICS_DONE
    if _SYMBOLICS_DONE:
        return
    if opset > 17:
        raise ValueError(f"export: opset {opset} is not supported by the TorchScript path (ReduceMean takes axes as an "
                         "input from 18); use opset <= 17 or dynamo=True.")
    for version in range(13, 18):
        torch.onnx.register_custom_op_symbolic("aten::rms_norm", _rms_norm_symbolic, version)
    _SYMBOLICS_DONE = True


@contextlib.contextmanager
def export_mode():
    """Every selective scan runs the standard-op ``export`` backend inside the block."""
    from visionssm.kernels.selective_scan import force_backend

    with force_backend("export"):
        yield


def export_onnx(
        model: nn.Module,
        path: Union[str, Path],
        example_inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
        opset: int = DEFAULT_OPSET,
        dynamic_batch: bool = True,
        dynamo: bool = False,
        input_names: Optional[Sequence[str]] = None,
) -> OnnxReport:
    """Write ``model`` (eval mode, float32) to ``path`` as ONNX; returns node count, size and export time.

    ``dynamo=False`` traces with TorchScript (tolerates Python control flow, batch axis kept symbolic);
    ``dynamo=True`` uses torch.export + onnxscript (needs a model that torch.export accepts).
    """
    _require_deploy()
    import onnx

    inputs = (example_inputs,) if isinstance(example_inputs, torch.Tensor) else tuple(example_inputs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    wrapped = _Flat(model).eval()
    with torch.no_grad(), export_mode():
        n_out = len(wrapped(*inputs))
    input_names = list(input_names or (["input"] if len(inputs) == 1 else [f"input{i}" for i in range(len(inputs))]))
    output_names = ["output"] if n_out == 1 else [f"output{i}" for i in range(n_out)]
    start = time.perf_counter()
    with torch.no_grad(), export_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python-int shapes: shapes other than batch are fixed
        if dynamo:
            batch = torch.export.Dim("batch", min=1, max=1024)
            shapes = tuple({0: batch} for _ in inputs) if dynamic_batch else None
            torch.onnx.export(wrapped, inputs, str(path), dynamo=True, opset_version=opset, dynamic_shapes=shapes,
                              input_names=input_names, output_names=output_names, external_data=False)
        else:
            _register_symbolics(opset)
            axes = {n: {0: "batch"} for n in input_names + output_names} if dynamic_batch else None
            torch.onnx.export(wrapped, inputs, str(path), dynamo=False, opset_version=opset, dynamic_axes=axes,
                              input_names=input_names, output_names=output_names, do_constant_folding=True)
    proto = _constants_to_initializers(onnx.load(str(path)))
    onnx.save(proto, str(path))
    export_s = time.perf_counter() - start
    onnx.checker.check_model(proto, full_check=True)
    op_types: Dict[str, int] = {}
    for node in proto.graph.node:
        op_types[node.op_type] = op_types.get(node.op_type, 0) + 1
    return OnnxReport(path=path, opset=opset, nodes=len(proto.graph.node), size_mb=path.stat().st_size / 2 ** 20,
                      export_s=export_s, input_names=input_names, output_names=output_names, op_types=op_types)


def _constants_to_initializers(proto):
    """Constant nodes → graph initializers (the same values; the graph keeps only the computing nodes)."""
    from onnx import numpy_helper

    graph, keep = proto.graph, []
    for node in graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Constant" and "value" in attrs:
            tensor = numpy_helper.from_array(numpy_helper.to_array(attrs["value"].t), node.output[0])
            graph.initializer.append(tensor)
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    return proto


def ort_session(path: Union[str, Path], threads: Optional[int] = None):
    """onnxruntime CPU session; thread spinning off (spinning workers measured 2x slower on a shared machine)."""
    _require_deploy()
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def verify_onnx(model: nn.Module, path: Union[str, Path],
                inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> Tuple[float, List]:
    """Max |onnxruntime − eager| over all outputs on ``inputs`` (eager with the default scan backend)."""
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    session = ort_session(path)
    feed = {i.name: t.detach().cpu().numpy() for i, t in zip(session.get_inputs(), inputs)}
    got = session.run(None, feed)
    with torch.no_grad():
        want = flat_outputs(model.eval()(*inputs))
    if len(got) != len(want):
        raise RuntimeError(f"export: the ONNX file has {len(got)} outputs, the model {len(want)}.")
    err = 0.0
    for g, w in zip(got, want):
        if tuple(g.shape) != tuple(w.shape):
            raise RuntimeError(f"export: ONNX output shape {tuple(g.shape)} differs from eager {tuple(w.shape)}.")
        err = max(err, float((torch.from_numpy(g) - w.float()).abs().max()) if w.numel() else 0.0)
    return err, got
