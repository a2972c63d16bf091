"""Parameter and FLOP counts for the medical models, counted the way VMamba reports them.

How FLOPs are counted (fvcore is not a dependency), by ``visionssm.benchmark``'s counter:
- matmul / linear / conv / einsum (anything ``torch.utils.flop_counter.FlopCounterMode`` counts) in **MACs**
  (FlopCounterMode counts 2 per multiply-add; we halve it), the convention of fvcore and of every VMamba-family
  paper ("FLOPs" = multiply-accumulates);
- every selective scan adds VMamba's count (``scan_flops`` in ``kernels/_common.py``): 9·B·L·D·N (+ B·D·L for
  the D skip, + B·D·L for a z gate), 7·B·L·D·N for the hidden-state output, with D = all directions' channels;
  the scan's own tensor ops are not counted a second time;
- normalisation, activations, pooling, interpolation and element-wise ops are not counted (fvcore's default
  for VMamba counts none of them either except norms, which are < 1% here).
"""
from dataclasses import dataclass
from typing import Sequence, Union

import torch
from torch import nn

from visionssm.benchmark import count_forward_flops

__all__ = ["ModelComplexity", "count_params", "count_flops"]

def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (shared tensors counted once)."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


@dataclass
class ModelComplexity:
    params: int
    macs: int  # matmul/linear/conv/einsum multiply-accumulates
    scan_flops: int  # 9·B·L·D·N per selective scan (+ D and z terms)
    input_shape: tuple

    @property
    def flops(self) -> int:
        """VMamba/fvcore convention: MACs of the dense ops + the selective-scan count."""
        return self.macs + self.scan_flops

    def __str__(self) -> str:
        return (f"params {self.params / 1e6:.3f}M, FLOPs {self.flops / 1e9:.3f}G (dense MACs {self.macs / 1e9:.3f}G "
                f"+ scan {self.scan_flops / 1e9:.3f}G) at input {tuple(self.input_shape)}")


def count_flops(model: nn.Module, inputs: Union[torch.Tensor, Sequence[int]]) -> ModelComplexity:
    """Count one forward pass (eval mode, no grad) on ``inputs`` (a tensor or a shape, e.g. (1, 3, 256, 256))."""
    x = inputs if isinstance(inputs, torch.Tensor) else torch.randn(*inputs)
    counted = count_forward_flops(model, x)
    return ModelComplexity(params=count_params(model), macs=counted.torch_flops // 2, scan_flops=counted.scan_flops,
                           input_shape=tuple(x.shape))
