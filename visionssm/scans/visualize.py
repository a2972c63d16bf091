"""Draw scan strategies' token paths on a grid: one panel per direction, one row of panels per strategy.

Reads only ``token_orders`` (plus ``segment_lengths`` / ``direction_grid``), so any registered strategy
with a token order can be drawn. Uses matplotlib when it is installed, else OpenCV (a core dependency).
The path colour runs from dark (first token) to yellow (last); a green dot marks the start, a red square
the end, arrows give the direction of every step (every few steps on large grids); padding steps (-1)
are skipped, and separate sequences (``cascade`` rows/columns) are not joined.
"""
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from .base import ScanStrategy
from .lookup import get_scan
from .registry import list_scans

MAX_COLUMNS = 8


def drawable_scans() -> List[str]:
    """Every registered strategy (each has a token order)."""
    return list_scans()


def build_for_drawing(name: str) -> ScanStrategy:
    """Build a strategy with default arguments; strategies that need their channel count get a small one."""
    return get_scan(name, d_inner=4)


def _paths(strategy: ScanStrategy, H: int, W: int) -> List[Tuple[str, int, int, List[np.ndarray]]]:
    """Per direction: (label, rows, cols, list of (n, 2) arrays of (row, col) points, one per sequence)."""
    orders = strategy.token_orders(H, W).numpy()
    segments = strategy.segment_lengths(H, W)
    out = []
    for k, order in enumerate(orders):
        gh, gw = strategy.direction_grid(H, W, k)
        seg = segments[k] if segments else len(order)
        pieces = []
        for start in range(0, len(order), seg):
            part = order[start:start + seg]
            part = part[part >= 0]
            if len(part):
                pieces.append(np.stack([part // gw, part % gw], axis=1).astype(float))
        label = f"k{k}" + ("" if (gh, gw) == (H, W) else f" ({gh}x{gw} grid)")
        out.append((label, gh, gw, pieces))
    return out


def _arrow_every(n_points: int) -> int:
    return max(1, n_points // 48)


def _draw_matplotlib(rows, H: int, W: int, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    n_rows = sum(-(-len(panels) // MAX_COLUMNS) for _, panels in rows)
    n_cols = min(MAX_COLUMNS, max(len(panels) for _, panels in rows))
    size = 2.2
    aspect = H / max(W, 1)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols, size * n_rows * max(aspect, 0.4) + 0.6),
                             squeeze=False)
    r = 0
    cmap = plt.get_cmap("viridis")
    for name, panels in rows:
        for i in range(0, len(panels), MAX_COLUMNS):
            for c in range(n_cols):
                ax = axes[r, c]
                ax.set_xticks([])
                ax.set_yticks([])
                if i + c >= len(panels):
                    ax.axis("off")
                    continue
                label, gh, gw, pieces = panels[i + c]
                ax.set_xlim(-0.5, gw - 0.5)
                ax.set_ylim(gh - 0.5, -0.5)
                ax.set_aspect("equal")
                for v in range(gw + 1):
                    ax.axvline(v - 0.5, color="0.85", lw=0.5)
                for v in range(gh + 1):
                    ax.axhline(v - 0.5, color="0.85", lw=0.5)
                total = max(sum(len(p) for p in pieces) - 1, 1)
                done = 0
                for p in pieces:
                    xy = p[:, ::-1]  # (col, row) = (x, y)
                    if len(p) > 1:
                        t = (done + np.arange(len(p) - 1)) / total
                        ax.add_collection(LineCollection(np.stack([xy[:-1], xy[1:]], 1), colors=cmap(t), lw=1.6))
                        every = _arrow_every(total)
                        for j in range(0, len(p) - 1, every):
                            ax.annotate("", xy=tuple(xy[j] + 0.55 * (xy[j + 1] - xy[j])), xytext=tuple(xy[j]),
                                        arrowprops={"arrowstyle": "-|>", "color": cmap(t[j]), "lw": 0,
                                                    "mutation_scale": 9})
                    ax.plot(*xy[0], "o", color="tab:green", ms=5 if len(pieces) == 1 else 2.5, zorder=3)
                    done += len(p)
                last = pieces[-1][-1][::-1]
                ax.plot(*last, "s", color="tab:red", ms=4, zorder=3)
                ax.set_title(f"{name} {label}" if c == 0 or i + c == 0 else label, fontsize=8)
            r += 1
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _draw_opencv(rows, H: int, W: int, path: Path, title: str) -> None:
    import cv2

    cell = int(np.clip(180 // max(H, W), 8, 40))
    pad, head = 10, 22
    n_cols = min(MAX_COLUMNS, max(len(panels) for _, panels in rows))
    pw, ph = W * cell + 2 * pad, H * cell + 2 * pad + head
    lines = []
    for name, panels in rows:
        for i in range(0, len(panels), MAX_COLUMNS):
            line = np.full((ph, pw * n_cols, 3), 255, np.uint8)
            for c, (label, gh, gw, pieces) in enumerate(panels[i:i + MAX_COLUMNS]):
                x0, y0 = c * pw + pad, head + pad
                cw = (W * cell) / gw
                ch = (H * cell) / gh
                for v in range(gw + 1):
                    x = int(x0 + v * cw)
                    cv2.line(line, (x, y0), (x, int(y0 + gh * ch)), (225, 225, 225), 1)
                for v in range(gh + 1):
                    y = int(y0 + v * ch)
                    cv2.line(line, (x0, y), (int(x0 + gw * cw), y), (225, 225, 225), 1)

                def at(p, x0=x0, y0=y0, cw=cw, ch=ch):
                    return int(x0 + (p[1] + 0.5) * cw), int(y0 + (p[0] + 0.5) * ch)

                total = max(sum(len(p) for p in pieces) - 1, 1)
                done = 0
                for p in pieces:
                    for j in range(len(p) - 1):
                        t = (done + j) / total
                        color = tuple(int(v) for v in (60 + 40 * t, 40 + 180 * t, 120 + 130 * t))  # BGR dark→light
                        a, b = at(p[j]), at(p[j + 1])
                        length = max(float(np.hypot(b[0] - a[0], b[1] - a[1])), 1.0)
                        tip = min(0.4, 5.0 / length) if j % _arrow_every(total) == 0 else 0.0
                        cv2.arrowedLine(line, a, b, color[::-1], 1, cv2.LINE_AA, tipLength=tip)
                    cv2.circle(line, at(p[0]), max(2, cell // 5), (0, 160, 0), -1)
                    done += len(p)
                ex, ey = at(pieces[-1][-1])
                s = max(2, cell // 6)
                cv2.rectangle(line, (ex - s, ey - s), (ex + s, ey + s), (0, 0, 220), -1)
                text = f"{name} {label}" if c == 0 and i == 0 else label
                cv2.putText(line, text, (c * pw + pad, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
            lines.append(line)
    banner = np.full((24, lines[0].shape[1], 3), 255, np.uint8)
    cv2.putText(banner, title, (pad, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    if not cv2.imwrite(str(path), np.concatenate([banner] + lines, axis=0)):
        raise OSError(f"could not write {path}")


def draw_scans(
        scans: Optional[Sequence[Union[str, ScanStrategy]]] = None,
        height: int = 8,
        width: int = 8,
        path: Union[str, Path] = "scans.png",
        backend: str = "auto",
) -> Path:
    """Draw the token paths of ``scans`` (names or instances; default: every strategy with a token order)
    on a ``height``×``width`` grid and write a PNG to ``path``. ``backend``: "auto", "matplotlib", "opencv"."""
    if height < 1 or width < 1:
        raise ValueError(f"grid must be at least 1x1, got {height}x{width}")
    strategies = [build_for_drawing(s) if isinstance(s, str) else s for s in (scans or drawable_scans())]
    rows = [(s.scan_name, _paths(s, height, width)) for s in strategies]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    title = f"scan orders on a {height}x{width} grid (start: green dot, end: red square, dark→light = early→late)"
    if backend == "auto":
        try:
            import matplotlib  # noqa: F401
            backend = "matplotlib"
        except ImportError:
            backend = "opencv"
    if backend == "matplotlib":
        _draw_matplotlib(rows, height, width, path, title)
    elif backend == "opencv":
        _draw_opencv(rows, height, width, path, title)
    else:
        raise ValueError(f"backend must be 'auto', 'matplotlib' or 'opencv', got {backend!r}")
    return path
