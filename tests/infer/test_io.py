"""Image reading: 16-bit, grayscale, alpha and corrupt files are converted or refused as documented."""
import cv2
import numpy as np
import pytest
from PIL import Image

from visionssm.infer.io import ImageReadError, list_images, read_image, to_rgb_uint8


def test_16bit_gray_png_is_scaled_linearly(tmp_path):
    a = np.array([[0, 257, 1000], [30000, 65534, 65535]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png")
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], np.rint(a * (255.0 / 65535.0)).astype(np.uint8))
    assert (out[..., 0] == out[..., 2]).all()


def test_16bit_colour_png_and_tiff_keep_full_precision(tmp_path):
    rgb16 = np.random.default_rng(0).integers(0, 65536, (5, 7, 3)).astype(np.uint16)
    expected = np.rint(rgb16 * (255.0 / 65535.0)).astype(np.uint8)
    for name in ("c16.png", "c16.tif"):
        cv2.imwrite(str(tmp_path / name), rgb16[..., ::-1])  # OpenCV writes BGR
        np.testing.assert_array_equal(read_image(tmp_path / name), expected)


def test_grayscale_and_alpha(tmp_path):
    g = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(g).save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (3, 4, 3) and all((out[..., c] == g).all() for c in range(3))
    rgba = np.dstack([np.full((3, 4, 3), 100, np.uint8), np.zeros((3, 4), np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.png")
    assert (read_image(tmp_path / "a.png") == 100).all()  # alpha dropped, not composited


def test_float_and_out_of_range_arrays():
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[0.0, 0.5, 1.0]], np.float32))[0, :, 0], [0, 128, 255])
    with pytest.raises(ValueError, match="outside 0..65535"):
        to_rgb_uint8(np.array([[0, 70000]], np.int32))


def test_corrupt_and_truncated_files_raise(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    img = (np.random.default_rng(1).random((40, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    for name in ("bad.jpg", "cut.jpg", "missing.png"):
        with pytest.raises(ImageReadError, match=name):
            read_image(tmp_path / name)


def test_list_images_recursive_and_single_file(tmp_path):
    (tmp_path / "sub").mkdir()
    for p in ("a.PNG", "sub/b.jpg", "notes.txt", ".hidden.png"):
        (tmp_path / p).write_bytes(b"x")
    root, files = list_images(tmp_path)
    assert root == tmp_path and [f.relative_to(tmp_path).as_posix() for f in files] == ["a.PNG", "sub/b.jpg"]
    assert list_images(tmp_path, recursive=False)[1] == [tmp_path / "a.PNG"]
    assert list_images(tmp_path / "sub" / "b.jpg") == (tmp_path / "sub", [tmp_path / "sub" / "b.jpg"])
    with pytest.raises(FileNotFoundError, match="neither"):
        list_images(tmp_path / "nope")
