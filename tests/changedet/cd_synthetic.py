"""Generated bi-temporal scenes with exact ground truth (objects appear, vanish or change class between dates).

Every scene is a textured background plus axis-aligned rectangles; each rectangle is drawn with a colour that
encodes its class, so the label maps are exact by construction. Written once per test session to tmp folders
in the real on-disk layouts (LEVIR-CD ``A/B/label``, SECOND ``im1/im2/label1/label2``, xBD ``images/masks``).
"""
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

from visionssm.changedet.datasets import SECOND_PALETTE

# class colours for the rendered images (distinct from the label palette on purpose)
LAND_COLOURS = np.array([(0, 0, 0), (40, 90, 200), (150, 140, 120), (90, 170, 60), (30, 110, 40), (200, 80, 70),
                         (230, 200, 60)], np.float32)
DAMAGE_COLOURS = np.array([(0, 0, 0), (220, 220, 220), (200, 170, 120), (150, 100, 60), (60, 40, 30)], np.float32)


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    base = rng.uniform(60, 120, size=3)
    noise = rng.normal(0, 6, size=(size, size, 3))
    return np.clip(base + noise, 0, 255)


def _rects(rng: np.random.Generator, size: int, n: int) -> List[Tuple[int, int, int, int]]:
    out = []
    for _ in range(n):
        h, w = rng.integers(size // 8, size // 3, size=2)
        y, x = rng.integers(0, size - h), rng.integers(0, size - w)
        out.append((int(y), int(x), int(h), int(w)))
    return out


def _save(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path)


def binary_scene(rng: np.random.Generator, size: int = 64):
    """(img_from, img_to, change 0/1): some objects vanish, some appear, some stay (no change)."""
    bg = _texture(rng, size)
    a, b = bg.copy(), bg.copy()
    for kind, (y, x, h, w) in zip(("vanish", "appear", "stay", "appear"), _rects(rng, size, 4)):
        colour = rng.uniform(170, 250, size=3)
        if kind in ("vanish", "stay"):
            a[y:y + h, x:x + w] = colour
        if kind in ("appear", "stay"):
            b[y:y + h, x:x + w] = colour
    # ground truth from the rendering itself: a pixel changed iff its value differs between dates
    change = (np.abs(a - b).sum(-1) > 0).astype(np.uint8)
    a += rng.normal(0, 2, a.shape)  # sensor noise, different per date (not change)
    b += rng.normal(0, 2, b.shape)
    return a, b, change


def semantic_scene(rng: np.random.Generator, size: int = 64):
    """(img_from, img_to, sem_from, sem_to) with class ids 1..6 and 0 on unchanged pixels (SECOND convention)."""
    land_a = np.full((size, size), 3, np.int64)  # low vegetation everywhere
    for (y, x, h, w) in _rects(rng, size, 4):
        land_a[y:y + h, x:x + w] = rng.integers(1, 7)
    land_b = land_a.copy()
    for (y, x, h, w) in _rects(rng, size, 2):  # these regions change class
        land_b[y:y + h, x:x + w] = rng.integers(1, 7)
    changed = land_a != land_b
    sem_a = np.where(changed, land_a, 0)
    sem_b = np.where(changed, land_b, 0)
    img_a = LAND_COLOURS[land_a] + rng.normal(0, 3, (size, size, 3))
    img_b = LAND_COLOURS[land_b] + rng.normal(0, 3, (size, size, 3))
    return img_a, img_b, sem_a, sem_b


def damage_scene(rng: np.random.Generator, size: int = 64):
    """(pre, post, loc 0/1, damage 0..4): buildings on the pre image, damage levels rendered on the post image."""
    loc = np.zeros((size, size), np.int64)
    dmg = np.zeros((size, size), np.int64)
    for i, (y, x, h, w) in enumerate(_rects(rng, size, 4)):
        loc[y:y + h, x:x + w] = 1
        dmg[y:y + h, x:x + w] = 1 + (i % 4)
    bg = _texture(rng, size)
    pre = np.where(loc[..., None] > 0, 220.0, bg)
    post = np.where(dmg[..., None] > 0, DAMAGE_COLOURS[dmg], bg)
    return pre + rng.normal(0, 2, pre.shape), post + rng.normal(0, 2, post.shape), loc, dmg


def write_binary_dataset(root: Path, n: int = 6, size: int = 64, seed: int = 0, split: str = "train") -> Dict:
    """LEVIR-CD layout ``root/split/{A,B,label}`` (0/255 masks) + ``root/list/split.txt``."""
    rng = np.random.default_rng(seed)
    names, truth = [], {}
    for i in range(n):
        a, b, change = binary_scene(rng, size)
        name = f"{split}_{i}.png"
        _save(root / split / "A" / name, a)
        _save(root / split / "B" / name, b)
        _save(root / split / "label" / name, change * 255)
        names.append(name)
        truth[name] = change
    (root / "list").mkdir(parents=True, exist_ok=True)
    (root / "list" / f"{split}.txt").write_text("\n".join(n.rsplit(".", 1)[0] for n in names) + "\n")
    return {"root": root, "names": names, "truth": truth}


def write_second_dataset(root: Path, n: int = 4, size: int = 64, seed: int = 1) -> Dict:
    """SECOND layout ``root/{im1,im2,label1,label2}`` with RGB colour-coded labels."""
    rng = np.random.default_rng(seed)
    palette = np.array(SECOND_PALETTE, np.uint8)
    truth = {}
    for i in range(n):
        a, b, sa, sb = semantic_scene(rng, size)
        name = f"{i:05d}.png"
        _save(root / "im1" / name, a)
        _save(root / "im2" / name, b)
        _save(root / "label1" / name, palette[sa])
        _save(root / "label2" / name, palette[sb])
        truth[name] = (sa, sb)
    return {"root": root, "truth": truth}


def write_xbd_dataset(root: Path, n: int = 3, size: int = 64, seed: int = 2) -> Dict:
    """xBD layout ``root/{images,masks}/<disaster>_<id>_{pre,post}_disaster.png``."""
    rng = np.random.default_rng(seed)
    truth = {}
    for i in range(n):
        pre, post, loc, dmg = damage_scene(rng, size)
        name = f"flood_{i:08d}"
        _save(root / "images" / f"{name}_pre_disaster.png", pre)
        _save(root / "images" / f"{name}_post_disaster.png", post)
        _save(root / "masks" / f"{name}_pre_disaster.png", np.stack([loc] * 3, -1))
        _save(root / "masks" / f"{name}_post_disaster.png", np.stack([dmg] * 3, -1))
        truth[name] = (loc, dmg)
    return {"root": root, "truth": truth}
