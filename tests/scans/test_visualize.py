"""The scan-order picture: a PNG is written for every backend available."""
import importlib.util

import numpy as np
import pytest

from visionssm.scans.visualize import draw_scans, drawable_scans

BACKENDS = ["opencv"] + (["matplotlib"] if importlib.util.find_spec("matplotlib") else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_draw_scans_writes_png(tmp_path, backend):
    import cv2

    path = draw_scans(["cross", "hilbert", "cascade"], 5, 7, tmp_path / "s.png", backend=backend)
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 100 and image.shape[1] > 300
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10  # something was drawn


def test_drawable_scans_are_the_registered_orders():
    names = drawable_scans()
    assert "cross" in names and "ncssd" not in names
    with pytest.raises(ValueError, match="token mixer, not a scan order"):
        draw_scans(["ncssd"], 3, 3, "unused.png")
