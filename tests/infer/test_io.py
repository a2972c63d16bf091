"""Image reading: 16-bit, grayscale, alpha and corrupt files are converted or refused as documented."""
from pathlib import Path

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


def test_inf_pixel_is_refused_not_blackened(tmp_path):
    a = np.linspace(0, 3, 12, dtype=np.float32).reshape(3, 4)
    a[1, 2] = np.inf
    Image.fromarray(a).save(tmp_path / "inf.tif")
    with pytest.raises(ImageReadError, match="inf.tif.*infinite"):
        read_image(tmp_path / "inf.tif")
    a[1, 2] = 1.5  # the same image without the inf reads as a real gradient
    Image.fromarray(a).save(tmp_path / "ok.tif")
    assert len(np.unique(read_image(tmp_path / "ok.tif"))) > 2


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_gray_tiff_with_swapping_exif_orientation_is_refused(tmp_path, dtype, orientation):
    a = (np.arange(12).reshape(3, 4) * 20).astype(dtype)
    Image.fromarray(a).save(tmp_path / "o.tif", tiffinfo={274: orientation})
    with pytest.raises(ImageReadError, match=f"o.tif.*orientation {orientation}"):
        read_image(tmp_path / "o.tif")
    Image.fromarray(a).save(tmp_path / "o1.tif", tiffinfo={274: 1})  # no rotation: read as stored
    assert read_image(tmp_path / "o1.tif").shape == (3, 4, 3)


def test_rgb_jpeg_exif_rotation_still_applied(tmp_path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(img).save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "r.jpg")
    assert out.shape == (40, 20, 3) and out[:15].mean() > 200 and out[25:].mean() < 50  # left → top


def test_symlinks_that_are_not_followed_are_listed(tmp_path):
    (tmp_path / "in").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "in" / "loop").symlink_to(tmp_path / "in")
    (tmp_path / "in" / "link.png").symlink_to(tmp_path / "in" / "a.png")  # a working file link is read
    skipped = []
    root, files = list_images(tmp_path / "in", skipped=skipped)
    assert [f.name for f in files] == ["a.png", "link.png"]
    assert [(Path(p).name, r.split(" ")[0]) for p, r in skipped] == [("gone.png", "broken"), ("loop", "symbolic")]


def test_output_names_never_collide():
    from visionssm.infer.outputs import output_name

    taken = set()
    names = [output_name(Path(p), ".png", taken) for p in ("a.jpg", "a.png", "a_png.png", "s1/c.png", "s2/c.png")]
    assert len(set(names)) == 5 and names[:2] == [Path("a.png"), Path("a_png.png")]
    assert names[3:] == [Path("s1/c.png"), Path("s2/c.png")]


def test_csv_cells_cannot_run_formulas(tmp_path):
    from visionssm.infer.outputs import write_csv

    rows = [{"path": "=HYPERLINK(\"http://x\")", "name": "+1", "score": -0.5},
            {"path": "@SUM(A1)", "name": "-cmd", "score": 0.25}, {"path": "\tx", "name": "\rlabel", "score": 1.0},
            {"path": "ok.png", "name": "cat", "score": 2}]
    write_csv(tmp_path / "p.csv", rows, ["path", "name", "score"])
    import csv

    with open(tmp_path / "p.csv", newline="") as f:
        back = list(csv.DictReader(f))
    assert [r["path"] for r in back] == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'\tx", "ok.png"]
    assert [r["name"] for r in back] == ["'+1", "'-cmd", "'\rlabel", "cat"]
    assert [r["score"] for r in back] == ["-0.5", "0.25", "1.0", "2"]  # numbers untouched
