"""scikit-learn's handwritten digits (1797 8x8 images, 10 classes, shipped inside the wheel: no download)
exported as an ImageNet-style folder, so the quickstart trains through the same config/dataset code as ImageNet.

Layout written::

    <out>/train/<digit>/<index>.png     8-bit grayscale PNG, 8x8 (sklearn's 0..16 levels scaled to 0..255)
    <out>/val/<digit>/<index>.png       held out: stratified split fixed by ``seed``
    <out>/split.json                    indices, seed and counts (so the split can be checked and reproduced)

``<index>`` is the row in ``sklearn.datasets.load_digits()``, zero-padded, so a file names its source sample.
"""
import json
from pathlib import Path
from typing import Dict, Union

import numpy as np

__all__ = ["export_digits", "stratified_split"]


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int):
    """Per-class shuffled split: every class keeps ``val_fraction`` of its samples (rounded) in val."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * val_fraction))
        val.extend(idx[:n_val].tolist())
        train.extend(idx[n_val:].tolist())
    return sorted(train), sorted(val)


def export_digits(out_dir: Union[str, Path], val_fraction: float = 0.2, seed: int = 0,
                  overwrite: bool = False) -> Dict[str, int]:
    """Write the digits to ``out_dir`` (see module doc); returns ``{'train': n, 'val': n}``.

    An existing export with the same seed and fraction is reused; a different one raises unless ``overwrite``.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError("the digits quickstart needs scikit-learn: pip install scikit-learn "
                          "(or pip install 'visionssm[mm]')") from e
    from PIL import Image

    out = Path(out_dir)
    meta_path = out / "split.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("seed") == seed and meta.get("val_fraction") == val_fraction:
            return {"train": len(meta["train"]), "val": len(meta["val"])}
        if not overwrite:
            raise FileExistsError(f"{meta_path} holds a different split (seed {meta.get('seed')}, val_fraction "
                                  f"{meta.get('val_fraction')}); pass overwrite=True (--overwrite) or another folder")
    digits = load_digits()
    images = np.clip(np.rint(digits.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    train, val = stratified_split(labels, val_fraction, seed)
    for split, indices in (("train", train), ("val", val)):
        for i in indices:
            folder = out / split / str(int(labels[i]))
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(folder / f"{i:04d}.png")
    meta = {"source": "sklearn.datasets.load_digits", "seed": seed, "val_fraction": val_fraction,
            "train": train, "val": val, "classes": [str(c) for c in range(10)]}
    meta_path.write_text(json.dumps(meta))
    return {"train": len(train), "val": len(val)}
