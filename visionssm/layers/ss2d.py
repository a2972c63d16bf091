"""SS2D: the scan-agnostic 2D selective-SSM token mixer every backbone takes its mixer from.

VMamba's SS2D with the scan order pulled out: the layer owns the projections, the depthwise conv, the
per-direction SSM parameters (``DirectionalSSM``) and the output norm / gate; a scan strategy from
``visionssm.scans`` decides which token sequences the K directions see and how they merge back.
Swapping ``scan="cross"`` for any other registered strategy changes nothing else.
"""
import copy
import inspect
from typing import Any, Dict, Iterator, Optional, Union

import torch
from torch import nn

from visionssm.scans import ScanStrategy, build_scan, get_scan_class

from .norms import channel_norm, nchw_to_nhwc, nhwc_to_nchw, pointwise_linear
from .ssm import DirectionalSSM, resolve_dt_rank

GATES = ("silu", "linear", "none")


def _takes_width(cls) -> bool:
    return "d_inner" in inspect.signature(cls.__init__).parameters


def resolve_scan(scan: Union[str, ScanStrategy], scan_kwargs: Optional[Dict[str, Any]] = None,
                 d_inner: Optional[int] = None) -> ScanStrategy:
    """A strategy instance from a registered name (+ kwargs) or an instance; rejects whole mixers.

    Strategies whose constructor takes ``d_inner`` (those owning convs or state-fusion weights) get the layer's
    width unless ``scan_kwargs`` sets it.
    """
    if isinstance(scan, str):
        kwargs = dict(scan_kwargs or {})
        if d_inner is not None and "d_inner" not in kwargs and _takes_width(get_scan_class(scan)):
            kwargs["d_inner"] = d_inner
        strategy = build_scan(scan, **kwargs)
    else:
        if scan_kwargs:
            raise ValueError("scan_kwargs is only used with a scan name; configure the strategy instance instead.")
        strategy = scan
    if not isinstance(strategy, ScanStrategy):
        raise TypeError(f"scan must be a registered scan name or a visionssm.scans.ScanStrategy, got {type(strategy).__name__}")
    if getattr(strategy, "kind", "scan") != "scan":
        raise TypeError(f"scan {strategy.scan_name!r} is a whole token mixer (kind={strategy.kind!r}), not a scan order; "
                        f"SS2D needs a strategy with kind='scan'. Use the mixer directly in place of SS2D.")
    return strategy


class ScanProvider:
    """Hands every block of a backbone its strategy.

    A strategy without parameters, buffers or a width argument is built once and shared, so the whole model
    has one order cache; a strategy with its own weights is built (name) or deep-copied (instance) per block.
    """

    def __init__(self, scan: Union[str, ScanStrategy], scan_kwargs: Optional[Dict[str, Any]] = None):
        self.scan, self.scan_kwargs = scan, scan_kwargs
        self._shared: Optional[ScanStrategy] = None

    def __call__(self, d_inner: Optional[int] = None) -> ScanStrategy:
        if self._shared is not None:
            return self._shared
        strategy = resolve_scan(self.scan, self.scan_kwargs, d_inner)
        stateful = any(True for _ in strategy.parameters()) or any(True for _ in strategy.buffers())
        width = isinstance(self.scan, str) and _takes_width(type(strategy))
        if not stateful and not width:
            self._shared = strategy
        elif not isinstance(self.scan, str):
            strategy = copy.deepcopy(strategy)
        return strategy


def scan_for_blocks(scan: Union[str, ScanStrategy], scan_kwargs: Optional[Dict[str, Any]] = None,
                    d_inner: Optional[int] = None) -> Iterator[ScanStrategy]:
    """Endless iterator of strategies for blocks of one width ``d_inner`` (shared or per block, as ``ScanProvider``)."""
    provider = ScanProvider(scan, scan_kwargs)
    while True:
        yield provider(d_inner)


class SS2D(nn.Module):
    """2D selective-scan token mixer (VMamba SS2D, any scan strategy).

    ``x → in_proj → (x, z)``; ``x → depthwise conv → act → strategy(x, ssm) → out_norm``;
    ``y · gate(z) → out_proj → dropout``.

    Args:
        dim: input/output channels (C).
        scan: registered scan name or a ``ScanStrategy`` instance (K = ``strategy.num_directions``).
            Strategies taking a ``d_inner`` argument (``multiscale``, ``spatial_fusion``) get the layer's width;
            other construction arguments go in ``scan_kwargs``.
        d_state: SSM state size N. ssm_ratio: d_inner = int(ssm_ratio · dim) unless ``d_inner`` is given.
        dt_rank: rank R of the Δ projection; "auto" = ceil(dim / 16) (VMamba).
        d_conv: depthwise conv kernel; < 2 disables the conv. conv_bias: bias on that conv (v0 yes, v2 no).
        gate: "silu" (z branch with act, VMamba v0/v2), "linear" (z without act, ``_nozact``) or
            "none" (no z branch, ``v05_noz``).
        act_layer: activation after the conv (and on z for gate="silu").
        out_norm: LayerNorm over d_inner after the merge (VMamba), else identity.
        proj_bias: bias of in_proj / out_proj (False in VMamba).
        channels_first: input/output NCHW (1×1 convs, VMamba ``ln2d``) instead of NHWC (Linear, v0).
        dropout: after out_proj. backend: selective-scan backend. float32_output: the scan returns
            float32 for half inputs (VMamba "oflex"); the layer output is cast back to the input dtype.
        norm_eps: eps of out_norm (1e-5 = nn.LayerNorm default, as the official code).
        se: channel gate (e.g. squeeze-excite, MSVMamba) on the normalised output before ``· gate(z)``.
        strategy_hooks: hand strategies that declare ``wants_raw_input`` the pre-conv activation (``raw=``) and
            those that declare ``applies_out_norm`` the out-norm (``norm=``, applied per branch by the strategy
            instead of after the merge), as MSVMamba's MS2D does. Channels-last only.
    """

    def __init__(
            self,
            dim: int,
            scan: Union[str, ScanStrategy] = "cross",
            d_state: int = 16,
            ssm_ratio: float = 2.0,
            dt_rank: Union[int, str] = "auto",
            d_inner: Optional[int] = None,
            d_conv: int = 3,
            conv_bias: bool = True,
            gate: str = "silu",
            act_layer=nn.SiLU,
            out_norm: bool = True,
            proj_bias: bool = False,
            channels_first: bool = False,
            dropout: float = 0.0,
            backend: str = "auto",
            float32_output: bool = True,
            scan_kwargs: Optional[Dict[str, Any]] = None,
            dt_min: float = 0.001,
            dt_max: float = 0.1,
            dt_init_floor: float = 1e-4,
            dt_scale: float = 1.0,
            norm_eps: float = 1e-5,
            se: Optional[nn.Module] = None,
            strategy_hooks: bool = False,
    ):
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
        self.dim = dim
        self.d_inner = int(d_inner if d_inner is not None else ssm_ratio * dim)
        self.channels_first = channels_first
        self.gate = gate
        self.scan = resolve_scan(scan, scan_kwargs, self.d_inner)
        K = self.scan.num_directions

        d_proj = self.d_inner if gate == "none" else 2 * self.d_inner
        self.in_proj = pointwise_linear(dim, d_proj, channels_first, bias=proj_bias)
        self.act = act_layer()
        if d_conv > 1:
            self.conv = nn.Conv2d(self.d_inner, self.d_inner, d_conv, padding=(d_conv - 1) // 2,
                                  groups=self.d_inner, bias=conv_bias)
        else:
            self.conv = nn.Identity()
        ssm_channels = self.scan.ssm_channels(self.d_inner) if hasattr(self.scan, "ssm_channels") else self.d_inner
        self.ssm = DirectionalSSM(
            ssm_channels, d_state=d_state, dt_rank=resolve_dt_rank(dt_rank, dim), num_directions=K,
            dt_min=dt_min, dt_max=dt_max, dt_init_floor=dt_init_floor, dt_scale=dt_scale,
            backend=backend, float32_output=float32_output)
        self.out_norm = channel_norm(self.d_inner, channels_first, eps=norm_eps) if out_norm else nn.Identity()
        self.out_proj = pointwise_linear(self.d_inner, dim, channels_first, bias=proj_bias)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.se = se if se is not None else nn.Identity()
        self._pass_raw = strategy_hooks and getattr(self.scan, "wants_raw_input", False)
        self._scan_norms = strategy_hooks and getattr(self.scan, "applies_out_norm", False)
        if channels_first and (self._pass_raw or self._scan_norms):
            raise ValueError("strategy_hooks (raw input / per-branch out-norm) need a channels-last SS2D "
                             "(channels_first=False)")

    @property
    def num_directions(self) -> int:
        return self.scan.num_directions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) if ``channels_first`` else (B, H, W, C); returns the same layout."""
        in_dtype = x.dtype
        x = self.in_proj(x)
        z = None
        if self.gate != "none":
            x, z = x.chunk(2, dim=1 if self.channels_first else -1)
            if self.gate == "silu":
                z = self.act(z)
        if not self.channels_first:
            x = nhwc_to_nchw(x)
        hooks = {}
        if self._pass_raw:
            hooks["raw"] = x
        if self._scan_norms:
            hooks["norm"] = self.out_norm
        x = self.act(self.conv(x))
        y = self.scan(x, self.ssm, **hooks)  # (B, d_inner, H, W)
        if not self.channels_first:
            y = nchw_to_nhwc(y)
        if not self._scan_norms:
            y = self.out_norm(y)
        y = self.se(y.to(in_dtype))
        if z is not None:
            y = y * z
        return self.dropout(self.out_proj(y))

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, d_inner={self.d_inner}, scan={self.scan.scan_name!r}, gate={self.gate!r}, "
                f"channels_first={self.channels_first}")
