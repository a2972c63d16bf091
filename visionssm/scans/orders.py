"""Index builders for token orders: each returns a LongTensor (L,) of raster indices h·W + w.

These run once per (H, W) (strategies cache the result per device), so plain Python is fine here;
nothing in this module is on a hot path.
"""
from typing import List, Tuple

import torch


def raster(H: int, W: int) -> torch.Tensor:
    """Row-major: row 0 left→right, then row 1, ..."""
    return torch.arange(H * W)


def column_major(H: int, W: int) -> torch.Tensor:
    """Column-major: column 0 top→bottom, then column 1, ..."""
    return torch.arange(H * W).view(H, W).t().flatten()


def row_snake(H: int, W: int) -> torch.Tensor:
    """Boustrophedon over rows from the top-left: even rows left→right, odd rows right→left."""
    grid = torch.arange(H * W).view(H, W).clone()
    grid[1::2] = grid[1::2].flip(-1)
    return grid.flatten()


def column_snake(H: int, W: int) -> torch.Tensor:
    """Boustrophedon over columns from the top-left: even columns downwards, odd columns upwards."""
    grid = torch.arange(H * W).view(H, W).t().clone()
    grid[1::2] = grid[1::2].flip(-1)
    return grid.flatten()


def diagonal_snake(H: int, W: int) -> torch.Tensor:
    """Anti-diagonal zigzag (JPEG-like) from the top-left, as MHS-VM's ``diag_scan(cw=True)``.

    Anti-diagonal k = h + w is walked with h decreasing when k is even and h increasing when k is odd.
    """
    h = torch.arange(H).view(H, 1).expand(H, W).flatten()
    w = torch.arange(W).view(1, W).expand(H, W).flatten()
    k = h + w
    # sort by diagonal, then by h (ascending on odd diagonals, descending on even ones)
    key = k * (H + 1) + torch.where(k % 2 == 1, h, H - h)
    return (h * W + w)[torch.argsort(key)]


def spiral(H: int, W: int) -> torch.Tensor:
    """Clockwise spiral from the top-left corner inwards (MHS-VM ``spiral_scan``)."""
    out: List[int] = []
    top, left, bottom, right = 0, 0, H - 1, W - 1
    while top <= bottom and left <= right:
        out += [top * W + j for j in range(left, right + 1)]
        out += [i * W + right for i in range(top + 1, bottom + 1)]
        if top < bottom:
            out += [bottom * W + j for j in range(right - 1, left - 1, -1)]
        if left < right:
            out += [i * W + left for i in range(bottom - 1, top, -1)]
        top, left, bottom, right = top + 1, left + 1, bottom - 1, right - 1
    return torch.tensor(out, dtype=torch.long)


def mirror_columns(order: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """The same path reflected left↔right (w → W-1-w)."""
    return (order // W) * W + (W - 1 - order % W)


def mirror_rows(order: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """The same path reflected top↔bottom (h → H-1-h)."""
    return (H - 1 - order // W) * W + order % W


def windowed(H: int, W: int, window: int, column_first: bool = False) -> torch.Tensor:
    """LocalMamba ``local_scan``: pad H, W up to multiples of ``window`` (padding = -1), visit windows in
    row-major order and tokens row-major inside each window (``column_first``: both column-major)."""
    Hg, Wg = -(-H // window), -(-W // window)
    Hp, Wp = Hg * window, Wg * window
    rows = torch.arange(Hp).view(Hp, 1).expand(Hp, Wp)
    cols = torch.arange(Wp).view(1, Wp).expand(Hp, Wp)
    index = torch.where((rows < H) & (cols < W), rows * W + cols, torch.full_like(rows, -1))
    index = index.reshape(Hg, window, Wg, window)
    perm = (2, 0, 3, 1) if column_first else (0, 2, 1, 3)
    return index.permute(*perm).flatten()


# -- generalized Hilbert curve ----------------------------------------------------------------------
def _hilbert_rect(p: Tuple[int, int], u: Tuple[int, int], w: int, v: Tuple[int, int], h: int,
                  out: List[Tuple[int, int]]) -> None:
    """Cover the w×h rectangle {p + i·u + j·v} with a 4-connected path that starts at p and, whenever the
    parity allows it, ends at p + (w-1)·u (the next corner along the major axis u).

    Split the rectangle in two along u when it is long (2w > 3h); otherwise in three pieces: up the near
    part of v, across the far strip, back down the v side. Halves are rounded to even lengths so the
    sub-curves can end on the required corner.
    """
    if h == 1 or w == 1:
        step, n = (u, w) if h == 1 else (v, h)
        out.extend((p[0] + t * step[0], p[1] + t * step[1]) for t in range(n))
        return
    if 2 * w > 3 * h:
        w1 = w // 2
        if w1 % 2 and w > 2:
            w1 += 1
        _hilbert_rect(p, u, w1, v, h, out)
        _hilbert_rect((p[0] + w1 * u[0], p[1] + w1 * u[1]), u, w - w1, v, h, out)
        return
    h1, w1 = h // 2, w // 2
    if h1 % 2 and h > 2:
        h1 += 1
    # 1) along v over the first w1 columns of the near half, 2) across the far strip, 3) back along -v
    _hilbert_rect(p, v, h1, u, w1, out)
    _hilbert_rect((p[0] + h1 * v[0], p[1] + h1 * v[1]), u, w, v, h - h1, out)
    corner = (p[0] + (w - 1) * u[0] + (h1 - 1) * v[0], p[1] + (w - 1) * u[1] + (h1 - 1) * v[1])
    _hilbert_rect(corner, (-v[0], -v[1]), h1, (-u[0], -u[1]), w - w1, out)


def hilbert(H: int, W: int) -> torch.Tensor:
    """Generalized Hilbert curve over any H×W grid, from the top-left corner; consecutive tokens are
    4-neighbours. The curve runs along the longer side unless that side is odd and the other even, where
    no corner-to-corner path exists along it; then it runs along the even side."""
    row_major_ok = W % 2 == 0 or H % 2 == 1  # path (0,0) → (0, W-1) exists
    col_major_ok = H % 2 == 0 or W % 2 == 1
    along_w = (W >= H and row_major_ok) or not col_major_ok
    out: List[Tuple[int, int]] = []
    # points are (row, col)
    if along_w:
        _hilbert_rect((0, 0), (0, 1), W, (1, 0), H, out)
    else:
        _hilbert_rect((0, 0), (1, 0), H, (0, 1), W, out)
    return torch.tensor([r * W + c for r, c in out], dtype=torch.long)
