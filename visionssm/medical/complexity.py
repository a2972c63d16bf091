"""Parameter and FLOP counts for the medical models, counted the way VMamba reports them.

How FLOPs are counted (fvcore is not a dependency):
- matmul / linear / conv / einsum (anything ``torch.utils.flop_counter.FlopCounterMode`` counts) in **MACs**
  (FlopCounterMode counts 2 per multiply-add; we halve it), the convention of fvcore and of every VMamba-family
  paper ("FLOPs" = multiply-accumulates);
- every selective scan adds ``9·B·L·D·N`` (+ B·D·L for the D skip, + B·D·L for a z gate) from
  :func:`visionssm.kernels.selective_scan_flops`, with D = all directions' channels, exactly VMamba's
  ``flops_selective_scan_ref``; the scan's own tensor ops are not counted a second time (the op is replaced by
  a shape-only stand-in while counting);
- normalisation, activations, pooling, interpolation and element-wise ops are not counted (fvcore's default
  for VMamba counts none of them either except norms, which are < 1% here).
"""
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Sequence, Union
from unittest import mock

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from visionssm.kernels import selective_scan_flops

__all__ = ["ModelComplexity", "count_params", "count_flops"]

# modules that call the selective-scan op by the name ``selective_scan``
_SCAN_CALLERS = ("visionssm.layers.ssm", "visionssm.layers.mamba_block")


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
    import importlib

    x = inputs if isinstance(inputs, torch.Tensor) else torch.randn(*inputs)
    scan_total = [0]

    def stand_in(u, delta, A, B, C, D=None, z=None, *args, **kwargs):
        batch, channels, length = u.shape
        state = A.shape[-1]
        scan_total[0] += selective_scan_flops(batch, length, channels, state, with_D=D is not None,
                                              with_z=z is not None)
        out_dtype = kwargs.get("out_dtype") or u.dtype
        if C is None:
            return u.new_zeros(batch, channels, state, length, dtype=out_dtype)
        y = u.new_zeros(batch, channels, length, dtype=out_dtype)
        return (y, u.new_zeros(batch, channels, state)) if kwargs.get("return_last_state") else y

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with ExitStack() as stack:
            for name in _SCAN_CALLERS:
                stack.enter_context(mock.patch.object(importlib.import_module(name), "selective_scan", stand_in))
            stack.enter_context(torch.no_grad())
            stack.enter_context(counter)
            model(x)
    finally:
        model.train(was_training)
    return ModelComplexity(params=count_params(model), macs=counter.get_total_flops() // 2,
                           scan_flops=scan_total[0], input_shape=tuple(x.shape))
