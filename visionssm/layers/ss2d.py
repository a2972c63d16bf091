"""SS2D: the scan-agnostic 2D selective-SSM token mixer every backbone takes its mixer from.

VMamba's SS2D with the scan order pulled out: the layer owns the projections, the depthwise conv, the
per-direction SSM parameters (``DirectionalSSM``) and the output norm / gate; a scan strategy from
``visionssm.scans`` decides which token sequences the K directions see and how they merge back.
Swapping ``scan="cross"`` for any other registered strategy changes nothing else.
"""
from typing import Any, Dict, Optional, Union

import torch
from torch import nn

from visionssm.scans import ScanStrategy, get_scan

from .norms import channel_norm, nchw_to_nhwc, nhwc_to_nchw, pointwise_linear
from .ssm import DirectionalSSM, resolve_dt_rank

GATES = ("silu", "linear", "none")


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
        # a strategy instance (e.g. from a model's ScanSource) is used as given: one lookup per layer
        self.scan = scan if isinstance(scan, ScanStrategy) and not scan_kwargs else get_scan(
            scan, scan_kwargs, self.d_inner)
        K = self.scan.num_directions

        d_proj = self.d_inner if gate == "none" else 2 * self.d_inner
        self.in_proj = pointwise_linear(dim, d_proj, channels_first, bias=proj_bias)
        self.act = act_layer()
        if d_conv > 1:
            self.conv = nn.Conv2d(self.d_inner, self.d_inner, d_conv, padding=(d_conv - 1) // 2,
                                  groups=self.d_inner, bias=conv_bias)
        else:
            self.conv = nn.Identity()
        self.ssm = DirectionalSSM(
            self.scan.ssm_channels(self.d_inner), d_state=d_state, dt_rank=resolve_dt_rank(dt_rank, dim), num_directions=K,
            dt_min=dt_min, dt_max=dt_max, dt_init_floor=dt_init_floor, dt_scale=dt_scale,
            backend=backend, float32_output=float32_output)
        self.out_norm = channel_norm(self.d_inner, channels_first, eps=norm_eps) if out_norm else nn.Identity()
        self.out_proj = pointwise_linear(self.d_inner, dim, channels_first, bias=proj_bias)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.se = se if se is not None else nn.Identity()
        self._pass_raw = bool(strategy_hooks and self.scan.wants_raw_input)
        self._scan_norms = bool(strategy_hooks and self.scan.applies_out_norm)
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
        raw = x if self._pass_raw else None
        norm = self.out_norm if self._scan_norms else None
        x = self.act(self.conv(x))
        y = self.scan(x, self.ssm, raw, norm)  # (B, d_inner, H, W)
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
