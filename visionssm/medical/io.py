"""Reading and writing medical images with clear errors: PNG/JPG (PIL), NIfTI (nibabel), HDF5 (h5py), npz.

Volumes are returned in nnU-Net's axis order (D, H, W) = (z, y, x): nibabel's (x, y, z) array is transposed,
and :func:`write_nifti` transposes back and keeps the source affine, so masks overlay their images.
nibabel and h5py are imported only here, when a volume is read (``pip install 'visionssm[medical]'``).
"""
import os
from typing import Iterable, Optional, Tuple

import numpy as np

__all__ = ["UnreadableFileError", "read_image_2d", "read_mask_2d", "read_nifti", "write_nifti", "read_h5_volume",
           "read_npz_slice", "check_label_values", "check_same_shape", "NIFTI_ENDINGS"]

NIFTI_ENDINGS = (".nii.gz", ".nii")


class UnreadableFileError(OSError):
    """A file exists but cannot be decoded (truncated, wrong format, missing keys)."""


def _need(module: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"reading this file needs {module}: pip install {module} "
                          f"(or pip install 'visionssm[medical]')") from e


def _exists(path) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    return path


def read_image_2d(path) -> np.ndarray:
    """(H, W, 3) uint8 RGB (grey images are repeated to 3 channels)."""
    from PIL import Image
    path = _exists(path)
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as e:
        raise UnreadableFileError(f"cannot read image {path} ({type(e).__name__}: {e}); expected a PNG/JPEG/BMP/TIFF") from e


def read_mask_2d(path, binary_threshold: Optional[int] = 128) -> np.ndarray:
    """(H, W) int64 mask; with ``binary_threshold`` an 8-bit mask is binarised (ISIC masks are 0/255)."""
    from PIL import Image
    path = _exists(path)
    try:
        with Image.open(path) as im:
            mask = np.asarray(im.convert("L") if im.mode in ("RGB", "RGBA", "P", "LA") else im)
    except Exception as e:
        raise UnreadableFileError(f"cannot read mask {path} ({type(e).__name__}: {e})") from e
    if mask.ndim != 2:
        raise UnreadableFileError(f"mask {path} has shape {mask.shape}; expected a single-channel image")
    if binary_threshold is not None:
        return (mask >= binary_threshold).astype(np.int64)
    return mask.astype(np.int64)


def read_nifti(path) -> Tuple[np.ndarray, np.ndarray]:
    """(array in (D, H, W) [+ trailing channels reversed likewise], 4×4 affine)."""
    nib = _need("nibabel")
    path = _exists(path)
    try:
        img = nib.load(path)
        data = np.asanyarray(img.dataobj)
    except Exception as e:
        raise UnreadableFileError(f"cannot read NIfTI volume {path} ({type(e).__name__}: {e}); the file may be "
                                  "truncated or not a .nii/.nii.gz file") from e
    if data.ndim not in (2, 3):
        raise UnreadableFileError(f"NIfTI {path} has {data.ndim} dimensions {data.shape}; expected one 3D volume "
                                  "(nnU-Net stores each channel as its own _XXXX file)")
    return np.ascontiguousarray(data.T), np.asarray(img.affine, dtype=np.float64)


def write_nifti(array: np.ndarray, path, affine: Optional[np.ndarray] = None, dtype=np.uint8) -> None:
    """Write a (D, H, W) array (transposed back to nibabel's x, y, z) with ``affine`` (identity if None)."""
    nib = _need("nibabel")
    img = nib.Nifti1Image(np.ascontiguousarray(np.asarray(array).T.astype(dtype)),
                          np.eye(4) if affine is None else affine)
    nib.save(img, os.fspath(path))


def read_h5_volume(path, keys: Iterable[str] = ("image", "label")) -> Tuple[np.ndarray, ...]:
    """Arrays stored under ``keys`` in an HDF5 file (Synapse ``test_vol_h5/caseXXXX.npy.h5``: image, label (D,H,W))."""
    h5py = _need("h5py")
    path = _exists(path)
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in keys if k not in f]
            if missing:
                raise KeyError(f"missing datasets {missing}; found {list(f.keys())}")
            return tuple(np.asarray(f[k][:]) for k in keys)
    except Exception as e:
        raise UnreadableFileError(f"cannot read HDF5 volume {path} ({type(e).__name__}: {e})") from e


def read_npz_slice(path, keys: Iterable[str] = ("image", "label")) -> Tuple[np.ndarray, ...]:
    """Arrays of a Synapse training slice ``train_npz/caseXXXX_sliceYYY.npz`` (image, label (H, W))."""
    path = _exists(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise KeyError(f"missing arrays {missing}; found {f.files}")
            return tuple(np.asarray(f[k]) for k in keys)
    except Exception as e:
        raise UnreadableFileError(f"cannot read npz slice {path} ({type(e).__name__}: {e})") from e


def check_label_values(label: np.ndarray, allowed: Iterable[int], source: str) -> None:
    """Raise if ``label`` holds a value outside the declared classes (with the offending values and the file)."""
    allowed = sorted({int(a) for a in allowed})
    values = np.unique(label)
    bad = [v.item() for v in values if v not in allowed]
    if bad:
        raise ValueError(f"{source}: label values {bad[:10]} are not among the declared classes {allowed}; fix the "
                         "label file or the class list (dataset.json 'labels' / num_classes)")


def check_same_shape(image_shape, label_shape, source: str) -> None:
    if tuple(image_shape) != tuple(label_shape):
        raise ValueError(f"{source}: image spatial shape {tuple(image_shape)} != label shape {tuple(label_shape)}; "
                         "the image and its label must be on the same grid")
