"""The timm contract of the 4-stage (hierarchical) families, written once.

A family model builds ``stem``, ``stages`` (each stage a module with a ``grad_checkpointing`` flag, its
``downsample`` first and ``blocks`` after), a final norm and a ``head`` whose ``reset(num_classes, pool_type,
in_features=...)`` follows timm's ``ClassifierHead``; it sets the class attributes below for what differs (body
layout, where the final norm lives, which SSM parameters skip weight decay). Everything else — feature_info,
forward_features / forward_head, forward_intermediates, prune_intermediate_layers, group_matcher, grad
checkpointing, classifier reset — comes from ``HierarchicalBackbone``.
"""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from timm.layers import trunc_normal_
from timm.models._features import feature_take_indices
from torch import nn

__all__ = ["HierarchicalBackbone", "stage_dims", "drop_path_rates", "stage_feature_info", "init_weights"]


def stage_dims(dims: Union[int, Sequence[int]], num_stages: int) -> List[int]:
    """An int doubles per stage (official ``dims=96`` → [96, 192, 384, 768]); a list must have one per stage."""
    if isinstance(dims, int):
        return [dims * 2 ** i for i in range(num_stages)]
    dims = list(dims)
    if len(dims) != num_stages:
        raise ValueError(f"dims {dims} has {len(dims)} entries, depths has {num_stages}")
    return dims


def drop_path_rates(rate: float, total: int) -> List[float]:
    """``torch.linspace(0, rate, total)`` in Python (works when the model is built on the meta device)."""
    return [rate * i / (total - 1) if total > 1 else 0.0 for i in range(total)]


def stage_feature_info(dims: Sequence[int], first_reduction: int = 4) -> List[Dict[str, Any]]:
    """timm ``feature_info`` of stage outputs ``stages.i``: stride ``first_reduction`` · 2^i."""
    return [{"num_chs": d, "reduction": first_reduction * 2 ** i, "module": f"stages.{i}"} for i, d in enumerate(dims)]


def init_weights(module: nn.Module, trunc_normal: Callable = trunc_normal_) -> None:
    """Official init of these families: trunc-normal(0.02) Linear weights, zero biases, unit LayerNorms.

    SSM parameters keep their Mamba init (they are not Linear modules). ``trunc_normal``: timm's (default) or
    ``nn.init.trunc_normal_`` — they draw different values from the same seed, so each family keeps its own.
    """
    if isinstance(module, nn.Linear):
        trunc_normal(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class HierarchicalBackbone(nn.Module):
    """Mixin-style base of the hierarchical families (stem → stages → final norm → head).

    Class attributes:
        body_fmt: layout of the stage outputs, "NCHW" or "NHWC" (intermediates are permuted from it).
        intermediate_fmts: ``output_fmt`` values ``forward_intermediates`` accepts.
        final_norm_name: attribute of the final norm that ``forward_features`` applies.
        norm_in_head: the final norm is ``head.norm`` (applied by the head, not by ``forward_features``).
        no_weight_decay_suffixes: parameter-name endings kept out of weight decay (SSM A, D, Δ bias).
    """

    body_fmt = "NCHW"
    intermediate_fmts: Tuple[str, ...] = ("NCHW",)
    final_norm_name = "norm"
    norm_in_head = False
    no_weight_decay_suffixes: Tuple[str, ...] = (".A_logs", ".Ds", ".dt_projs_bias")

    # -- final norm --------------------------------------------------------------------------------
    def _final_norm(self) -> nn.Module:
        return self.head.norm if self.norm_in_head else getattr(self, self.final_norm_name)

    def _remove_final_norm(self) -> None:
        if self.norm_in_head:
            self.head.norm = nn.Identity()
        else:
            setattr(self, self.final_norm_name, nn.Identity())

    def _norm_features(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.norm_in_head else self._final_norm()(x)

    # -- timm API ----------------------------------------------------------------------------------
    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        """SSM A (log), D and Δ bias: never decayed (Mamba convention; timm would decay A_log, being 2-D)."""
        return {n for n, _ in self.named_parameters() if n.endswith(self.no_weight_decay_suffixes)}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict[str, Any]:
        fine = [(r"^stages\.(\d+)\.downsample", (0,)), (r"^stages\.(\d+)\.blocks\.(\d+)", None)]
        if not self.norm_in_head:
            fine.append((rf"^{self.final_norm_name}", (99999,)))
        return {"stem": r"^stem", "blocks": r"^stages\.(\d+)" if coarse else fine}

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for stage in self.stages:
            stage.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        self.num_classes = num_classes
        if global_pool is not None:
            self.global_pool = global_pool
        self.head.reset(num_classes, global_pool)

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: Optional[Union[int, List[int]]] = None,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = "NCHW",
            intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Stage outputs (before the next stage's downsample); ``norm`` applies the final norm to the last stage.

        The final features (second return) are those of ``forward_features`` when every stage ran.
        """
        if output_fmt not in self.intermediate_fmts:
            raise ValueError(f"{type(self).__name__} intermediates support output_fmt {self.intermediate_fmts}, "
                             f"got {output_fmt!r}")
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        stages = self.stages if torch.jit.is_scripting() or not stop_early else self.stages[:max_index + 1]
        last = len(self.stages) - 1
        permute = self.body_fmt == "NHWC" and output_fmt == "NCHW"
        intermediates = []
        x = self.stem(x)
        for i, stage in enumerate(stages):
            x = stage(x)
            if i in take_indices:
                y = self._final_norm()(x) if norm and i == last else x
                intermediates.append(y.permute(0, 3, 1, 2).contiguous() if permute else y)
        if intermediates_only:
            return intermediates
        if len(stages) == len(self.stages):
            x = self._norm_features(x)
        return x, intermediates

    def prune_intermediate_layers(self, indices: Union[int, List[int]] = 1, prune_norm: bool = False,
                                  prune_head: bool = True) -> List[int]:
        """Keep the stages up to the last index; cutting the end also drops the final norm and the classifier."""
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        prune_end = max_index < len(self.stages) - 1
        self.stages = self.stages[:max_index + 1]
        if prune_norm or prune_end:
            self._remove_final_norm()
        if prune_end:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
        if prune_head or prune_end:
            self.reset_classifier(0, "")
        return take_indices

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Unpooled final map in ``body_fmt`` (normed here unless the head owns the norm)."""
        return self._norm_features(self.stages(self.stem(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
