"""Post-training dynamic int8 for the Linear layers of a visionssm model (PyTorch) and of its ONNX file.

Only the token-wise projections are quantized: ``nn.Linear`` and pointwise (1×1, ungrouped) ``nn.Conv2d`` layers,
which the channels-first models use for in/out projections and MLPs (they become Linear layers over channels first).
The selective scan and everything feeding its recurrence stay float32: the SSM's x/dt projections, Δ and its
softplus, A, D, and every norm, because rounding inside the recurrence compounds over thousands of tokens
(fp16/int8 in the scan is where official models lose accuracy). Weights int8 per output channel, activations
quantized per batch at run time.

PyTorch: ``torch.ao.quantization.quantize_dynamic`` (torchao is not needed for this CPU path).
ONNX: ``onnxruntime.quantization.quantize_dynamic`` on the MatMul/Gemm nodes of the projections only.
"""
import copy
import warnings
from pathlib import Path
from typing import List, Optional, Union

import torch
from torch import nn

__all__ = ["PointwiseLinear", "int8_linear_count", "pointwise_convs_to_linear", "quantize_int8",
           "quantize_onnx_int8", "FLOAT_KEEP"]

# module-name fragments kept float32 whatever their type (the SSM parameters live in DirectionalSSM as raw
# Parameters, so they are never Linear layers; these guard Linear-based Δ projections in other layers)
FLOAT_KEEP = ("ssm", "dt_proj", "x_proj", "norm")


class PointwiseLinear(nn.Module):
    """A 1×1 convolution as a Linear over channels of an NCHW map (the same numbers, a quantizable layer)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.linear = nn.Linear(conv.in_channels, conv.out_channels, bias=conv.bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(conv.weight.reshape(conv.out_channels, conv.in_channels))
            if conv.bias is not None:
                self.linear.bias.copy_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _is_pointwise(m: nn.Module) -> bool:
    return (type(m) is nn.Conv2d and m.kernel_size == (1, 1) and m.stride == (1, 1) and m.padding in ((0, 0), "valid")
            and m.groups == 1 and m.dilation == (1, 1))


def _kept_float(name: str) -> bool:
    return any(part in name for part in FLOAT_KEEP)


def pointwise_convs_to_linear(model: nn.Module) -> nn.Module:
    """Replace (in place) every pointwise Conv2d outside the float32 set by a ``PointwiseLinear``."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if _is_pointwise(child) and not _kept_float(full):
                setattr(module, child_name, PointwiseLinear(child))
    return model


def quantize_int8(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Dynamic int8 copy of ``model`` (eval, CPU): Linear and pointwise-conv layers int8, the rest float32."""
    model = model if inplace else copy.deepcopy(model)
    model = pointwise_convs_to_linear(model.eval().float().cpu())
    targets = {name for name, m in model.named_modules() if type(m) is nn.Linear and not _kept_float(name)}
    if not targets:
        raise ValueError("quantize_int8: the model has no Linear or pointwise-conv layers outside the scan to quantize.")
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's quantized-tensor deprecation notices
        return quantize_dynamic(model, dict.fromkeys(targets, default_dynamic_qconfig), dtype=torch.qint8,
                                inplace=True)


def int8_linear_count(model: nn.Module) -> int:
    """Number of dynamic int8 Linear layers in a quantized model."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return sum(isinstance(m, DynamicLinear) for m in model.modules())


def quantize_onnx_int8(src: Union[str, Path], dst: Union[str, Path],
                       exclude_scopes: Optional[List[str]] = None) -> Path:
    """Dynamic int8 ONNX file: MatMul/Gemm nodes with a constant weight, except those under the SSM scopes."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise ImportError("int8 ONNX needs onnx and onnxruntime: pip install 'visionssm[deploy]'.") from e
    proto = onnx.load(str(src))
    weights = {init.name for init in proto.graph.initializer}
    scopes = tuple(exclude_scopes or ("/ssm/", "dt_proj", "x_proj"))
    exclude = [n.name for n in proto.graph.node if n.op_type in ("MatMul", "Gemm")
               and (any(s in n.name for s in scopes) or not any(i in weights for i in n.input[1:2]))]
    dst = Path(dst)
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                     nodes_to_exclude=exclude, per_channel=True)
    return dst
