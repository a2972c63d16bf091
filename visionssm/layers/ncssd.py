"""VSSD's non-causal state space duality (NC-SSD): a token mixer with no scan order at all.

VSSD (arXiv:2407.18559) drops Mamba2's causal mask and the decay between tokens (its ``ssd_positve_dA``
flips the sign of dt·A into a positive per-token weight), so every token sees every other token::

    w_j = dt_j · exp(A_log)                       (per head; = -dt_j · A)
    y_i = C_i · Σ_j B_j (w_j x_j)  +  D · x_i      (per head)

i.e. linear attention with keys B, queries C and values w·x. Computed as two matrix products in the
order C (Bᵀ (w x)): O(L·N·P) per head, never an L×L matrix. It is not a scan strategy (nothing to order),
so it is not in the scan registry; ``ncssd_mixer`` accepts the name ``"ncssd"`` that model configs use.
"""
from typing import Optional, Union

import torch
from timm.layers import register_notrace_module
from torch import nn

NCSSD_NAME = "ncssd"


@register_notrace_module  # a leaf for torch.fx: it branches on the key/query layout
class NonCausalSSD(nn.Module):
    """Non-causal SSD in matrix form (no parameters: the calling layer owns dt, A, B, C, D).

    Args:
        positive_dA: VSSD's ``ssd_positve_dA`` (True in every released model): weight tokens by -dt·A > 0.
            False keeps dt·A < 0 (the ablation); there is no decay either way.
    """

    def __init__(self, positive_dA: bool = True):
        super().__init__()
        self.positive_dA = positive_dA

    def forward(self, x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                D: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mix L tokens.

        Args:
            x: (b, L, h, p) values of h heads. dt: (b, L, h) step sizes (after softplus).
            A: (h,) negative decay rates (``-exp(A_log)``). D: (h,) skip or None.
            B, C: (b, L, g, n) keys and queries in g groups (h divisible by g); (b, L, n) means g = 1.
                As in VSSD, head i uses group i % g.
        Returns: (b, L, h, p).
        """
        b, L, h, p = x.shape
        if B.dim() == 3:
            B, C = B.unsqueeze(2), C.unsqueeze(2)
        g = B.shape[2]
        if h % g:
            raise ValueError(f"ncssd: {h} heads cannot be split into {g} groups of keys/queries")
        weight = dt * A.view(1, 1, h)
        if self.positive_dA:
            weight = -weight
        values = (x * weight.unsqueeze(-1)).view(b, L, h // g, g, p)
        kv = torch.einsum("blgn,blagp->bagnp", B, values)  # Σ_j B_j ⊗ (w_j x_j): (b, h/g, g, n, p)
        y = torch.einsum("blgn,bagnp->blagp", C, kv).reshape(b, L, h, p)
        if D is not None:
            y = y + x * D.view(1, 1, h, 1)
        return y

    def extra_repr(self) -> str:
        return f"positive_dA={self.positive_dA}"


def ncssd_mixer(mixer: Union[str, NonCausalSSD] = NCSSD_NAME) -> NonCausalSSD:
    """The NC-SSD op from its config name ``"ncssd"`` or an instance (e.g. ``NonCausalSSD(positive_dA=False)``)."""
    if isinstance(mixer, NonCausalSSD):
        return mixer
    if mixer == NCSSD_NAME:
        return NonCausalSSD()
    raise ValueError(f"VSSD's 'mixer' stages run the NC-SSD token mixer: pass scan='ncssd' or a "
                     f"visionssm.layers.ncssd.NonCausalSSD, got {mixer!r} (a scan order needs a scan layer such as "
                     f"SS2D, not VSSD's Mamba2 projections)")
