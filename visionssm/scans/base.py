"""Base class of scan strategies: token orders as cached index tensors, vectorised gather and merge.

A strategy turns a (B, C, H, W) map into K token sequences, lets a per-direction selective SSM run on
them, and merges the K outputs back into (B, C, H, W). Permutation strategies only describe their
orders (``build_orders``); gathering and merging are shared here and never loop over tokens.

Index tensors depend only on (H, W, device), Python ints: ``index_constant`` builders run eagerly even while
torch.compile / torch.export trace the caller, so a traced graph holds them as constants (no graph breaks,
no data-dependent ops, nothing fake stored in the caches).
"""
import contextlib
import functools
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple, TypeVar

import torch
from timm.layers import register_notrace_module
from torch import nn

if TYPE_CHECKING:  # the layer package imports this one
    from visionssm.layers.ssm import DirectionalSSM

_F = TypeVar("_F", bound=Callable)


# dispatch modes a non-strict torch.export / make_fx trace runs under (fake tensors, proxies)
_TRACING_MODES = tuple(getattr(getattr(torch._C, "_TorchDispatchModeKey", None), name)
                       for name in ("FAKE", "PROXY") if hasattr(getattr(torch._C, "_TorchDispatchModeKey", None), name))


def _tracing_modes_active() -> bool:
    """Whether a fake-tensor or proxy dispatch mode is on: cheap enough to ask on every call, unlike entering
    the contexts that leave them."""
    get_mode = torch._C._get_dispatch_mode
    return any(get_mode(key) is not None for key in _TRACING_MODES)


@contextlib.contextmanager
def _eager_tensors() -> Iterator[None]:
    """Plain eager tensors inside a fake-tensor / proxy trace (non-strict torch.export): index tensors built
    here are real, so the cache never holds a traced tensor and the export lifts them as constants."""
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    from torch.fx.experimental.proxy_tensor import disable_proxy_modes_tracing
    with unset_fake_temporarily(), disable_proxy_modes_tracing():
        yield


def store_index(cache: dict, key, value):
    """``cache[key] = value``, except while torch.export traces (it treats new module state as an error in the
    making; the traced program holds the value as a constant anyway). Returns ``value``."""
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    if is_exporting is None or not is_exporting():
        cache[key] = value
    return value


def index_constant(fn: _F) -> _F:
    """Mark a cached index builder whose result depends only on its Python arguments (grid size, device,
    the strategy's configuration): traced callers get the eager result as a constant."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not _tracing_modes_active():
            return fn(*args, **kwargs)
        with _eager_tensors():
            return fn(*args, **kwargs)
    assume_constant = getattr(torch.compiler, "assume_constant_result", None)
    return assume_constant(wrapper) if assume_constant is not None else wrapper


class _OrderIndex(NamedTuple):
    """Everything derived from one (H, W, device) order tensor, built once (no per-call device syncs)."""

    orders: torch.Tensor  # (K, L) raster indices, -1 = padding
    gather: torch.Tensor  # (K·L,) raster indices with padding → H·W (a zero slot appended to the map)
    inverse: torch.Tensor  # (K, H·W) step of each pixel per direction; L (a zero slot) where never visited
    has_padding: bool


@register_notrace_module  # a leaf for torch.fx (timm's feature extraction): its index work needs concrete H, W
class ScanStrategy(nn.Module):
    """A token-ordering strategy.

    Subclasses set ``num_directions`` (K, the number of per-direction parameter sets the SSM needs)
    and implement ``build_orders(H, W)``; they may override ``scan``/``merge``/``forward`` when the
    strategy is more than a permutation (multi-scale, state fusion, ...).

    ``merge_mode``: "sum" (VMamba), "mean" (Vim) or "scatter" (each pixel written by exactly one
    direction, EfficientVMamba).
    """

    scan_name = "base"
    num_directions = 1
    merge_mode = "sum"
    # hooks a layer honours when built with ``strategy_hooks=True`` (SS2D): pass the pre-conv activation as
    # ``raw`` / pass the layer's out-norm as ``norm`` and let the strategy apply it (then the layer does not)
    wants_raw_input = False
    applies_out_norm = False

    def __init__(self):
        super().__init__()
        self._order_cache: Dict[Tuple[int, int, str], torch.Tensor] = {}
        self._index_cache: Dict[Tuple[int, int, str], _OrderIndex] = {}

    # -- orders -------------------------------------------------------------------------------
    def build_orders(self, H: int, W: int) -> torch.Tensor:
        """LongTensor (K, L_k) of raster indices h·W + w visited at each step; -1 marks padding."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_orders(H, W)")

    @index_constant
    def token_orders(self, H: int, W: int, device=None) -> torch.Tensor:
        """Cached ``build_orders`` on ``device``: built once per (H, W, device)."""
        device = torch.device(device or "cpu")
        key = (H, W, str(device))
        orders = self._order_cache.get(key)
        if orders is None:
            orders = store_index(self._order_cache, key, self.build_orders(H, W).to(device=device, dtype=torch.long))
        return orders

    def segment_lengths(self, H: int, W: int) -> Optional[List[int]]:
        """Length of the independent sequences each direction is cut into (None: one sequence per direction).

        Only strategies that run many short scans (e.g. ``cascade``: one per row) return lengths; the
        visualiser uses them so that it does not draw a path across sequence boundaries.
        """
        return None

    def direction_grid(self, H: int, W: int, k: int) -> Tuple[int, int]:
        """Grid (rows, cols) that direction k's raster indices refer to: (H, W) unless a strategy scans a
        resized map (MSVMamba's half-resolution branch) and says so here."""
        return H, W

    def ssm_channels(self, d_inner: int) -> int:
        """Channels per direction the layer must build its ``DirectionalSSM`` with (multi-head scans split them)."""
        return d_inner

    @index_constant
    def _index(self, H: int, W: int, device) -> _OrderIndex:
        device = torch.device(device or "cpu")
        key = (H, W, str(device))
        idx = self._index_cache.get(key)
        if idx is None:
            orders = self.token_orders(H, W, device)
            K, L = orders.shape
            cpu = orders.cpu()
            valid = cpu >= 0
            gather = torch.where(valid, cpu, torch.full_like(cpu, H * W))
            inverse = torch.full((K, H * W), L, dtype=torch.long)
            steps = torch.arange(L).expand(K, L)
            rows = torch.arange(K).unsqueeze(1).expand(K, L)
            inverse[rows[valid], cpu[valid]] = steps[valid]
            idx = _OrderIndex(orders, gather.reshape(-1).to(device), inverse.to(device), bool((~valid).any()))
            store_index(self._index_cache, key, idx)
        return idx

    # -- gather / merge -------------------------------------------------------------------------
    def fast_scan(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        """Optional shortcut with exactly ``scan``'s result (e.g. strided copies for raster orders); None = use the
        index gather. Kept separate from ``scan`` so that the strategy still counts as a pure permutation."""
        return None

    def fast_merge(self, y: torch.Tensor, H: int, W: int) -> Optional[torch.Tensor]:
        """Optional shortcut with ``merge``'s result (up to float summation order); None = use the index merge."""
        return None

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, K, C, L): tokens in each direction's order (padding reads zeros)."""
        xs = self.fast_scan(x)
        if xs is not None:
            return xs
        Bsz, C, H, W = x.shape
        idx = self._index(H, W, x.device)
        K, L = idx.orders.shape
        flat = x.reshape(Bsz, C, H * W)
        if idx.has_padding:
            flat = torch.cat([flat, flat.new_zeros(Bsz, C, 1)], dim=2)
        return flat.index_select(2, idx.gather).view(Bsz, C, K, L).transpose(1, 2)

    def merge(self, y: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """(B, K, C, L) → (B, C, H, W) by ``merge_mode``; padded steps are dropped."""
        out = self.fast_merge(y, H, W)
        if out is not None:
            return out
        Bsz, K, C, L = y.shape
        idx = self._index(H, W, y.device)
        out = y.new_zeros(Bsz, C, H * W + int(idx.has_padding))
        src = y.transpose(1, 2).reshape(Bsz, C, K * L)
        if torch.jit.is_tracing():  # the ONNX tracer's index_add keeps one of the repeated indices: scatter-add instead
            out = out.scatter_add(2, idx.gather.view(1, 1, -1).expand(Bsz, C, -1), src)
        else:
            out.index_add_(2, idx.gather, src)
        if idx.has_padding:
            out = out[:, :, : H * W]
        if self.merge_mode == "mean":
            out = out / K
        return out.view(Bsz, C, H, W)

    def unscan(self, y: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """(B, K, C, L) → (B, K, C, H·W): each direction put back in raster order, not merged.

        For merges that weigh directions against each other (MHS-VM's gated fusion); pixels a direction
        never visits read zero.
        """
        idx = self._index(H, W, y.device)
        y = torch.cat([y, y.new_zeros(*y.shape[:3], 1)], dim=3)
        inverse = idx.inverse[None, :, None, :].expand(*y.shape[:3], idx.inverse.shape[1])
        return torch.gather(y, 3, inverse)  # take_along_dim also wraps negative indices: 3.7x slower on CPU

    def forward(self, x: torch.Tensor, ssm: "DirectionalSSM", raw: Optional[torch.Tensor] = None,
                norm: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
        """Run ``ssm`` (a ``DirectionalSSM`` with K = ``num_directions``) along this strategy's orders.

        ``raw`` (the layer's pre-conv activation) and ``norm`` (its out-norm) are only passed to strategies that
        set ``wants_raw_input`` / ``applies_out_norm``; the others ignore them.
        """
        H, W = x.shape[-2:]
        return self.merge(ssm(self.scan(x)), H, W)

    def extra_repr(self) -> str:
        return f"name={self.scan_name!r}, directions={self.num_directions}, merge={self.merge_mode!r}"
