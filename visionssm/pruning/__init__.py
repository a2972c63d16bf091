"""Token pruning for vision SSMs: importance scores, EViT-style (naive) and hidden-state-aligned pruning.

Zhan et al., "Exploring Token Pruning in Vision State Space Models" (NeurIPS 2024, arXiv:2409.18962): removing
tokens from a scan changes which tokens are neighbours in the recurrence. Aligned pruning keeps every kept
token's recurrence as it would run over the kept tokens in their original scan order: a pruned step gets
Δ = 0, so exp(Δ·A) = 1 and Δ·B·u = 0 and the hidden state passes through unchanged. That needs nothing from the
op beyond an explicit Δ, so it is exact on every backend. ``compact=True`` then gathers the kept tokens for the
per-token work (norms, projections, gating) and runs the scan over kept steps only.
"""
from .core import (
    METHODS,
    SCORES,
    PruningConfig,
    aligned_delta,
    compact_steps,
    num_kept,
    select_tokens,
    token_scores,
)

__all__ = ["METHODS", "SCORES", "PruningConfig", "aligned_delta", "compact_steps", "num_kept", "select_tokens",
           "token_scores"]
