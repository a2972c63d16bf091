"""Per-direction selective SSM: projections x → (Δ, B, C) and the selective-scan op, for K directions at once.

Parameters are stacked per direction exactly as VMamba stores them (``x_proj_weight`` (K, R+2N, d),
``dt_projs_weight`` (K, d, R), ``dt_projs_bias`` (K, d), ``A_logs`` (K·d, N), ``Ds`` (K·d)), so a
scan strategy only decides which token sequence each direction sees.
"""
import math
from typing import Optional, Union

import torch
from torch import nn

from visionssm.kernels import selective_scan


def resolve_dt_rank(dt_rank: Union[int, str], dim: int) -> int:
    """``"auto"`` → ceil(dim / 16), the Mamba / VMamba default."""
    return math.ceil(dim / 16) if dt_rank == "auto" else int(dt_rank)


def _tracing() -> bool:
    """True while torch.compile / torch.export / torch.fx trace the caller: no host reads then."""
    if torch.compiler.is_compiling() or torch.fx._symbolic_trace.is_fx_symbolic_tracing() or torch.jit.is_tracing():
        return True
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    return bool(is_exporting is not None and is_exporting())


def _check_delta(delta: torch.Tensor) -> None:
    """The op's NaN/Inf guard at one reduction instead of its elementwise ``isfinite(...).all()`` (~25x cheaper on
    CPU): any NaN/Inf makes the sum non-finite. Skipped on CUDA, as the op does, to avoid a device sync, and in
    traced code, where reading a value back would break the graph (eager runs keep the check)."""
    if _tracing():
        return
    if delta.device.type != "cuda" and not bool(torch.isfinite(delta.detach().sum(dtype=torch.float32))):
        raise ValueError("DirectionalSSM: the projected delta contains NaN or Inf (or overflows float32); check the "
                         "dt projection and its inputs (or the learning rate) upstream of the scan.")


class DirectionalSSM(nn.Module):
    """Selective SSM with K independent parameter sets, one per scan direction.

    Args:
        d_inner: channels per direction. d_state: N. dt_rank: R ("auto" = ceil(model dim / 16) is
            resolved by the caller; here an int). num_directions: K.
        backend: selective-scan backend ("auto", "ref", "torch", "numba", "triton").
        float32_output: return float32 from half inputs (VMamba's fix for AMP overflow).
    """

    def __init__(
            self,
            d_inner: int,
            d_state: int = 16,
            dt_rank: int = 8,
            num_directions: int = 4,
            dt_min: float = 0.001,
            dt_max: float = 0.1,
            dt_init_floor: float = 1e-4,
            dt_scale: float = 1.0,
            backend: str = "auto",
            float32_output: bool = False,
    ):
        super().__init__()
        self.d_inner, self.d_state, self.dt_rank, self.num_directions = d_inner, d_state, dt_rank, num_directions
        self.backend = backend
        self.float32_output = float32_output
        K = num_directions
        self.x_proj_weight = nn.Parameter(torch.empty(K, dt_rank + 2 * d_state, d_inner))
        self.dt_projs_weight = nn.Parameter(torch.empty(K, d_inner, dt_rank))
        self.dt_projs_bias = nn.Parameter(torch.empty(K, d_inner))
        self.A_logs = nn.Parameter(torch.empty(K * d_inner, d_state))
        self.Ds = nn.Parameter(torch.empty(K * d_inner))
        self._dt_init = (dt_min, dt_max, dt_init_floor, dt_scale)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Mamba's initialisation: dt in [dt_min, dt_max] (log-uniform) via inverse softplus, A = -[1..N]."""
        dt_min, dt_max, floor, scale = self._dt_init
        bound = self.d_inner ** -0.5
        nn.init.uniform_(self.x_proj_weight, -bound, bound)
        dt_std = self.dt_rank ** -0.5 * scale
        nn.init.uniform_(self.dt_projs_weight, -dt_std, dt_std)
        dt = torch.exp(torch.rand_like(self.dt_projs_bias) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=floor)
        self.dt_projs_bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        A = torch.arange(1, self.d_state + 1, dtype=torch.float32).repeat(self.A_logs.shape[0], 1)
        self.A_logs.copy_(torch.log(A))
        self.Ds.fill_(1.0)

    def _direction_params(self, directions: Optional[slice]):
        directions = directions or slice(0, self.num_directions)
        k0, k1 = directions.start or 0, directions.stop if directions.stop is not None else self.num_directions
        rows = slice(k0 * self.d_inner, k1 * self.d_inner)
        return (self.x_proj_weight[k0:k1], self.dt_projs_weight[k0:k1], self.dt_projs_bias[k0:k1].reshape(-1),
                self.A_logs[rows], self.Ds[rows])

    def project(self, xs: torch.Tensor, directions: Optional[slice] = None):
        """xs (B, k, d, L) → delta (B, k·d, L), B (B, k, N, L), C (B, k, N, L) for the chosen directions."""
        x_proj, dt_proj, _, _, _ = self._direction_params(directions)
        Bsz, k, d, L = xs.shape
        # broadcast matmuls = one bmm over B·k, reading xs (B, k, d, L) in place when contiguous
        x_dbl = torch.matmul(x_proj.unsqueeze(0), xs)
        dts, Bs, Cs = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=2)
        dts = torch.matmul(dt_proj.unsqueeze(0), dts)
        return dts.reshape(Bsz, k * d, L), Bs.contiguous(), Cs.contiguous()

    def forward(
            self,
            xs: torch.Tensor,
            directions: Optional[slice] = None,
            return_states: bool = False,
    ):
        """Scan xs (B, k, d, L), k = number of directions selected by ``directions`` (default all K).

        Returns y (B, k, d, L); with ``return_states`` returns (states (B, k·d, N, L), C (B, k, N, L))
        for strategies that fuse hidden states before contracting with C (the caller adds D·u).
        """
        Bsz, k, d, L = xs.shape
        _, _, dt_bias, A_logs, Ds = self._direction_params(directions)
        delta, Bs, Cs = self.project(xs, directions)
        A = -torch.exp(A_logs.float())
        out_dtype = torch.float32 if self.float32_output else None
        u = xs.reshape(Bsz, k * d, L)
        _check_delta(delta)
        if return_states:
            states = selective_scan(u, delta, A, Bs, None, None, None, dt_bias.float(), True,
                                    out_dtype=out_dtype, backend=self.backend, check_finite=False)
            return states, Cs
        y = selective_scan(u, delta, A, Bs, Cs, Ds.float(), None, dt_bias.float(), True,
                           out_dtype=out_dtype, backend=self.backend, check_finite=False)
        return y.view(Bsz, k, d, L)

    def extra_repr(self) -> str:
        return (f"d_inner={self.d_inner}, d_state={self.d_state}, dt_rank={self.dt_rank}, "
                f"directions={self.num_directions}, backend={self.backend!r}")
