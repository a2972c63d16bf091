"""A stand-in for ``mmcv._ext`` (mmcv's compiled ops) built on torchvision's compiled operators.

Why: mmdet 3.3 and mmsegmentation 1.2 need ``mmcv>=2.0,<2.2``. PyPI ships that mmcv only as a source
build (over an hour on 2 cores, and it does not compile against torch >= 2.4 without patches), while
``mmcv-lite`` installs in seconds but has no ``mmcv._ext``, so ``import mmdet.models`` fails. This
module fills the gap for the ops our supported configs (Mask R-CNN, UperNet, RetinaNet-style heads)
actually call:

==========================  ===================================================================
``_ext`` function           implementation
==========================  ===================================================================
``nms``                     ``torchvision.ops.nms``; ``offset=1`` (legacy +1 box sizes) by
                            widening x2/y2 by one, which is exactly mmcv's area/overlap formula
``softnms``                 mmcv's sequential soft-NMS (naive / linear / gaussian), written here
``roi_align_forward``       ``torchvision::roi_align`` (avg pooling; ``aligned``; ``sampling_ratio``
                            0 = adaptive, as in mmcv)
``roi_align_backward``      ``torchvision::_roi_align_backward``
``sigmoid_focal_loss_*``    closed-form element-wise forward and gradient (mmcv's kernel formulas)
==========================  ===================================================================

Every other ``_ext`` function exists (mmcv checks ``hasattr`` at import) but raises
:class:`MMCVOpUnavailableError` naming the op and the fix when called. ``batched_nms`` needs nothing
here: mmcv implements it in Python on top of ``nms``.

With a real compiled mmcv (``mmcv._ext`` importable) :func:`install` does nothing.
"""
import importlib.util
import sys
from typing import Callable, Dict

import torch
from torch import Tensor

__all__ = ["MMCVOpUnavailableError", "install", "is_installed", "SUPPORTED_OPS"]

_FIX = (
    "install a compiled mmcv matching your torch/CUDA (e.g. `pip install mmcv==2.1.0 -f "
    "https://download.openmmlab.com/mmcv/dist/<cuda>/<torch>/index.html`, or `mim install mmcv==2.1.0`), "
    "or choose a config that avoids this op"
)


class MMCVOpUnavailableError(NotImplementedError):
    """Raised when a config reaches an mmcv compiled op that the mmcv-lite compatibility layer lacks."""


def _check_tv():
    import torchvision  # noqa: F401  (registers torch.ops.torchvision.*)


# --------------------------------------------------------------------------------------------- nms
def nms(boxes: Tensor, scores: Tensor, iou_threshold: float = 0.5, offset: int = 0) -> Tensor:
    """Indices kept by greedy NMS, sorted by decreasing score (mmcv ``nms_impl`` semantics)."""
    _check_tv()
    if boxes.numel() == 0:
        return boxes.new_empty((0,), dtype=torch.long)
    if offset not in (0, 1):
        raise ValueError(f"nms offset must be 0 or 1, got {offset}")
    if offset == 1:
        boxes = boxes.clone()
        boxes[:, 2:] += 1
    return torch.ops.torchvision.nms(boxes.float(), scores.float(), float(iou_threshold))


def softnms(boxes: Tensor, scores: Tensor, dets: Tensor, iou_threshold: float = 0.3, sigma: float = 0.5,
            min_score: float = 1e-3, method: int = 1, offset: int = 0) -> Tensor:
    """Soft-NMS on CPU; fills ``dets`` (N, 5) in output order and returns the kept original indices.

    method 0 = naive (hard suppression at ``iou >= iou_threshold``), 1 = linear (score *= 1 - iou above
    the threshold), 2 = gaussian (score *= exp(-iou^2 / sigma)). Boxes whose score falls below
    ``min_score`` are dropped. Sequential by nature (each step re-ranks), as in mmcv's CPU kernel.
    """
    n = boxes.size(0)
    if n == 0:
        return boxes.new_empty((0,), dtype=torch.long)
    boxes = boxes.float()
    sc = scores.float().clone()
    areas = (boxes[:, 2] - boxes[:, 0] + offset) * (boxes[:, 3] - boxes[:, 1] + offset)
    alive = torch.arange(n)
    kept = []
    while alive.numel() > 0:
        best = int(torch.argmax(sc[alive]))
        i = int(alive[best])
        dets[len(kept), :4] = boxes[i]
        dets[len(kept), 4] = sc[i]
        kept.append(i)
        alive = torch.cat([alive[:best], alive[best + 1:]])
        if alive.numel() == 0:
            break
        rest = boxes[alive]
        w = (torch.minimum(boxes[i, 2], rest[:, 2]) - torch.maximum(boxes[i, 0], rest[:, 0]) + offset).clamp(min=0)
        h = (torch.minimum(boxes[i, 3], rest[:, 3]) - torch.maximum(boxes[i, 1], rest[:, 1]) + offset).clamp(min=0)
        inter = w * h
        iou = inter / (areas[i] + areas[alive] - inter)
        if method == 0:
            weight = (iou < iou_threshold).float()
        elif method == 1:
            weight = torch.where(iou >= iou_threshold, 1 - iou, torch.ones_like(iou))
        elif method == 2:
            weight = torch.exp(-(iou * iou) / sigma)
        else:
            raise ValueError(f"softnms method must be 0, 1 or 2, got {method}")
        sc[alive] = sc[alive] * weight
        alive = alive[sc[alive] >= min_score]
    return torch.tensor(kept, dtype=torch.long)


# ---------------------------------------------------------------------------------------- RoIAlign
def roi_align_forward(input: Tensor, rois: Tensor, output: Tensor, argmax_y: Tensor, argmax_x: Tensor,
                      aligned_height: int = 7, aligned_width: int = 7, spatial_scale: float = 1.0,
                      sampling_ratio: int = 0, pool_mode: int = 1, aligned: bool = True) -> None:
    """Writes RoIAlign of ``input`` at ``rois`` (K, 5: batch index, x1, y1, x2, y2) into ``output``."""
    _check_tv()
    if pool_mode != 1:
        raise MMCVOpUnavailableError(
            "mmcv op 'roi_align' with pool_mode='max' is not provided by visionssm's mmcv-lite compatibility "
            f"layer (torchvision implements average pooling only): use pool_mode='avg', or {_FIX}")
    out = torch.ops.torchvision.roi_align(input, rois.to(input.dtype), float(spatial_scale), int(aligned_height),
                                          int(aligned_width), int(sampling_ratio), bool(aligned))
    output.copy_(out)


def roi_align_backward(grad_output: Tensor, rois: Tensor, argmax_y: Tensor, argmax_x: Tensor, grad_input: Tensor,
                       aligned_height: int = 7, aligned_width: int = 7, spatial_scale: float = 1.0,
                       sampling_ratio: int = 0, pool_mode: int = 1, aligned: bool = True) -> None:
    """Writes the gradient of :func:`roi_align_forward` with respect to its input into ``grad_input``."""
    _check_tv()
    if pool_mode != 1:
        raise MMCVOpUnavailableError("mmcv op 'roi_align' backward with pool_mode='max' is unavailable: " + _FIX)
    b, c, h, w = grad_input.shape
    grad = torch.ops.torchvision._roi_align_backward(
        grad_output, rois.to(grad_output.dtype), float(spatial_scale), int(aligned_height), int(aligned_width),
        b, c, h, w, int(sampling_ratio), bool(aligned))
    grad_input.copy_(grad)


# ------------------------------------------------------------------------------ sigmoid focal loss
def _focal_parts(input: Tensor, target: Tensor):
    p = torch.sigmoid(input)
    pos = torch.zeros_like(input, dtype=torch.bool)
    valid = (target >= 0) & (target < input.size(1))
    pos[valid.nonzero(as_tuple=True)[0], target[valid]] = True
    return p, pos


def sigmoid_focal_loss_forward(input: Tensor, target: Tensor, weight: Tensor, output: Tensor,
                               gamma: float = 2.0, alpha: float = 0.25) -> None:
    """Element-wise focal loss ``-a (1-p)^g log p`` (positives) / ``-(1-a) p^g log(1-p)`` (negatives)."""
    p, pos = _focal_parts(input, target)
    tiny = torch.finfo(input.dtype).tiny
    term_p = (1 - p).pow(gamma) * torch.log(p.clamp(min=tiny))
    term_n = p.pow(gamma) * torch.log((1 - p).clamp(min=tiny))
    loss = torch.where(pos, -alpha * term_p, -(1 - alpha) * term_n)
    if weight.numel() > 0:
        loss = loss * weight[target].unsqueeze(1)
    output.copy_(loss)


def sigmoid_focal_loss_backward(input: Tensor, target: Tensor, weight: Tensor, grad_input: Tensor,
                                gamma: float = 2.0, alpha: float = 0.25) -> None:
    """Analytic d(loss)/d(input) of :func:`sigmoid_focal_loss_forward`."""
    p, pos = _focal_parts(input, target)
    tiny = torch.finfo(input.dtype).tiny
    term_p = (1 - p).pow(gamma) * (1 - p - gamma * p * torch.log(p.clamp(min=tiny)))
    term_n = p.pow(gamma) * (gamma * (1 - p) * torch.log((1 - p).clamp(min=tiny)) - p)
    grad = torch.where(pos, -alpha * term_p, -(1 - alpha) * term_n)
    if weight.numel() > 0:
        grad = grad * weight[target].unsqueeze(1)
    grad_input.copy_(grad)


SUPPORTED_OPS: Dict[str, Callable] = {
    "nms": nms,
    "softnms": softnms,
    "roi_align_forward": roi_align_forward,
    "roi_align_backward": roi_align_backward,
    "sigmoid_focal_loss_forward": sigmoid_focal_loss_forward,
    "sigmoid_focal_loss_backward": sigmoid_focal_loss_backward,
}


def _unavailable(name: str) -> Callable:
    def op(*args, **kwargs):
        raise MMCVOpUnavailableError(
            f"mmcv compiled op '{name}' is not available: mmcv-lite has no mmcv._ext and visionssm's compatibility "
            f"layer (visionssm/mm/mmcv_ext_compat.py) implements only {sorted(SUPPORTED_OPS)}. Fix: {_FIX}.")
    op.__name__ = name
    return op


def __getattr__(name: str):
    # mmcv.ops modules call load_ext('_ext', [names]) at import and assert hasattr for each name:
    # every non-dunder name therefore resolves, to a function that explains itself when called.
    if name.startswith("_"):
        raise AttributeError(name)
    return _unavailable(name)


def is_installed() -> bool:
    """True when ``mmcv._ext`` is this compatibility module (mmcv-lite world)."""
    return sys.modules.get("mmcv._ext") is sys.modules[__name__]


def install() -> bool:
    """Alias this module as ``mmcv._ext`` if mmcv is installed without compiled ops; returns True if it did.

    Must run before ``mmcv.ops`` (hence ``mmdet.models`` / ``mmseg.models``) is first imported;
    ``import visionssm.mm`` calls it.
    """
    if is_installed():
        return True
    if "mmcv._ext" in sys.modules:
        return False
    try:
        if importlib.util.find_spec("mmcv") is None or importlib.util.find_spec("mmcv._ext") is not None:
            return False  # no mmcv at all, or a real compiled mmcv: leave it untouched
    except (ImportError, ValueError):
        return False
    if "mmcv.ops" in sys.modules:
        raise ImportError("mmcv.ops was imported before visionssm.mm could provide mmcv._ext for mmcv-lite: "
                          "import visionssm.mm before mmdet/mmseg models")
    sys.modules["mmcv._ext"] = sys.modules[__name__]
    return True
