"""Token orders: official orders on small grids (hand-written from the official code), bijections, Hilbert."""
import pytest
import torch

from visionssm.scans import build_scan, list_scans
from visionssm.scans import orders as O

# 4×6 and 5×7 grids, raster index h·W + w. Lists below were written from the official builders
# (VMamba cross_scan_fn, PlainMamba get_permute_order, MHS-VM scanutils, LocalMamba local_scan).
ROW_4x6 = list(range(24))
COL_4x6 = [0, 6, 12, 18, 1, 7, 13, 19, 2, 8, 14, 20, 3, 9, 15, 21, 4, 10, 16, 22, 5, 11, 17, 23]
ROW_SNAKE_4x6 = [0, 1, 2, 3, 4, 5, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 23, 22, 21, 20, 19, 18]
COL_SNAKE_4x6 = [0, 6, 12, 18, 19, 13, 7, 1, 2, 8, 14, 20, 21, 15, 9, 3, 4, 10, 16, 22, 23, 17, 11, 5]
DIAG_4x6 = [0, 1, 6, 12, 7, 2, 3, 8, 13, 18, 19, 14, 9, 4, 5, 10, 15, 20, 21, 16, 11, 17, 22, 23]
SPIRAL_4x6 = [0, 1, 2, 3, 4, 5, 11, 17, 23, 22, 21, 20, 19, 18, 12, 6, 7, 8, 9, 10, 16, 15, 14, 13]
W2_4x6 = [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11, 12, 13, 18, 19, 14, 15, 20, 21, 16, 17, 22, 23]
W4_4x6 = [0, 1, 2, 3, 6, 7, 8, 9, 12, 13, 14, 15, 18, 19, 20, 21, 4, 5, -1, -1, 10, 11, -1, -1, 16, 17, -1, -1,
          22, 23, -1, -1]

ROW_5x7 = list(range(35))
COL_5x7 = [0, 7, 14, 21, 28, 1, 8, 15, 22, 29, 2, 9, 16, 23, 30, 3, 10, 17, 24, 31, 4, 11, 18, 25, 32, 5, 12, 19,
           26, 33, 6, 13, 20, 27, 34]
ROW_SNAKE_5x7 = [0, 1, 2, 3, 4, 5, 6, 13, 12, 11, 10, 9, 8, 7, 14, 15, 16, 17, 18, 19, 20, 27, 26, 25, 24, 23, 22,
                 21, 28, 29, 30, 31, 32, 33, 34]
COL_SNAKE_5x7 = [0, 7, 14, 21, 28, 29, 22, 15, 8, 1, 2, 9, 16, 23, 30, 31, 24, 17, 10, 3, 4, 11, 18, 25, 32, 33, 26,
                 19, 12, 5, 6, 13, 20, 27, 34]
DIAG_5x7 = [0, 1, 7, 14, 8, 2, 3, 9, 15, 21, 28, 22, 16, 10, 4, 5, 11, 17, 23, 29, 30, 24, 18, 12, 6, 13, 19, 25, 31,
            32, 26, 20, 27, 33, 34]
SPIRAL_5x7 = [0, 1, 2, 3, 4, 5, 6, 13, 20, 27, 34, 33, 32, 31, 30, 29, 28, 21, 14, 7, 8, 9, 10, 11, 12, 19, 26, 25,
              24, 23, 22, 15, 16, 17, 18]
W3_5x7 = [0, 1, 2, 7, 8, 9, 14, 15, 16, 3, 4, 5, 10, 11, 12, 17, 18, 19, 6, -1, -1, 13, -1, -1, 20, -1, -1, 21, 22,
          23, 28, 29, 30, -1, -1, -1, 24, 25, 26, 31, 32, 33, -1, -1, -1, 27, -1, -1, 34, -1, -1, -1, -1, -1]

GRIDS = {
    (4, 6): {"row": ROW_4x6, "col": COL_4x6, "row_snake": ROW_SNAKE_4x6, "col_snake": COL_SNAKE_4x6,
             "diag": DIAG_4x6, "spiral": SPIRAL_4x6},
    (5, 7): {"row": ROW_5x7, "col": COL_5x7, "row_snake": ROW_SNAKE_5x7, "col_snake": COL_SNAKE_5x7,
             "diag": DIAG_5x7, "spiral": SPIRAL_5x7},
}


def rev(order):
    return order[::-1]


def mirror_cols(order, W):
    return [(i // W) * W + (W - 1 - i % W) for i in order]


def mirror_rows(order, H, W):
    return [(H - 1 - i // W) * W + i % W for i in order]


def expected_orders(name, H, W):
    g = GRIDS[(H, W)]
    if name == "cross":
        return [g["row"], g["col"], rev(g["row"]), rev(g["col"])]
    if name == "unidirectional":
        return [g["row"]] * 4
    if name == "bidirectional_2d":
        return [g["row"], g["row"], rev(g["row"]), rev(g["row"])]
    if name == "zigzag":
        return [g["row_snake"], rev(g["row_snake"]), g["col_snake"], rev(g["col_snake"])]
    if name == "cascade":
        rows = [list(range(h * W, (h + 1) * W)) for h in range(H)]
        cols = [list(range(w, H * W, W)) for w in range(W)]
        return [sum(rows, []), sum((r[::-1] for r in rows), []), sum(cols, []), sum((c[::-1] for c in cols), [])]
    if name == "multihead":
        routes = [(g["row_snake"], g["col_snake"]), (g["diag"], mirror_cols(g["diag"], W)),
                  (g["spiral"], mirror_rows(g["spiral"], H, W)), (g["row"], g["col"])]
        return [o for r0, r1 in routes for o in (r0, rev(r0), r1, rev(r1))]
    raise KeyError(name)


@pytest.mark.parametrize("size", list(GRIDS))
@pytest.mark.parametrize("name", ["cross", "unidirectional", "bidirectional_2d", "zigzag", "cascade", "multihead"])
def test_official_orders(name, size):
    H, W = size
    assert build_scan(name).token_orders(H, W).tolist() == expected_orders(name, H, W)


def test_local_orders_match_localmamba():
    # LocalMamba local_scan: w2 on 4×6 (anchors_backbones.md §11) and w4 (padding scanned as zero tokens)
    s = build_scan("local", directions=["w2", "w4", "w4_flip", "h"])
    orders = s.token_orders(4, 6).tolist()
    assert orders[0] == W2_4x6 + [-1] * 8
    assert orders[1] == W4_4x6
    assert orders[2] == rev(W4_4x6)
    assert orders[3] == ROW_4x6 + [-1] * 8  # shorter sequences padded at the end, as MultiScanVSSM does
    assert build_scan("local", window_size=3, directions=["w3"]).token_orders(5, 7).tolist() == [W3_5x7]
    # column-first windows: windows column-major, tokens column-major inside
    col = build_scan("local", directions=["w2_v"]).token_orders(4, 6)[0].tolist()
    assert col[:8] == [0, 6, 1, 7, 12, 18, 13, 19]


def test_local_default_and_bad_direction():
    s = build_scan("local")
    assert s.directions == ("w7", "w7_v", "w7_flip", "w7_v_flip") and s.num_directions == 4
    with pytest.raises(ValueError, match="unknown local-scan direction 'diag'"):
        build_scan("local", directions=["h", "diag"])


def test_multihead_heads():
    assert build_scan("multihead", heads=3).num_directions == 12
    assert build_scan("multihead", heads="ZC").token_orders(4, 6)[0].tolist() == ROW_4x6
    with pytest.raises(ValueError, match="heads"):
        build_scan("multihead", heads="Q")


def _is_path(order: torch.Tensor, W: int) -> bool:
    r, c = order // W, order % W
    return bool(((r.diff().abs() + c.diff().abs()) == 1).all())


def test_hilbert_bijection_and_neighbours_all_sizes():
    for H in range(1, 18):
        for W in range(1, 24):
            for transposed in (False, True):
                orders = build_scan("hilbert", transposed=transposed).build_orders(H, W)
                assert orders.shape == ((4 if transposed else 2), H * W)
                for order in orders:
                    assert torch.equal(order.sort().values, torch.arange(H * W)), (H, W)
                    assert _is_path(order, W), (H, W, order.tolist())


def test_hilbert_is_the_hilbert_curve_on_powers_of_two():
    # classic 4×4 Hilbert curve from the top-left, ending at the top-right
    assert O.hilbert(4, 4).tolist() == [0, 1, 5, 4, 8, 12, 13, 9, 10, 14, 15, 11, 7, 6, 2, 3]
    h = build_scan("hilbert", transposed=True).build_orders(4, 4)
    assert h[1].tolist() == [0, 4, 5, 1, 2, 3, 7, 6, 10, 11, 15, 14, 13, 9, 8, 12]  # the transposed curve


def test_continuous_orders_are_paths():
    for H, W in [(4, 6), (5, 7), (1, 5), (6, 1), (9, 4)]:
        for order in build_scan("zigzag").build_orders(H, W):
            assert _is_path(order, W)
        assert _is_path(O.spiral(H, W), W)


SIZES = [(1, 1), (1, 7), (7, 1), (2, 2), (3, 5), (4, 6), (5, 7), (8, 8), (6, 9), (13, 10)]


def _build(name):
    from visionssm.scans.visualize import build_for_drawing
    return build_for_drawing(name)


def test_orders_are_bijections_on_valid_tokens():
    from visionssm.scans import ScanStrategy
    for name in list_scans():
        s = _build(name)
        if (type(s).forward is not ScanStrategy.forward and name != "cascade"
                                and name != "multihead"):
            continue  # strategies with their own forward over resized maps are covered by their own tests
        for H, W in SIZES:
            orders = s.token_orders(H, W)
            assert orders.shape[0] == s.num_directions, name
            if s.merge_mode == "scatter":
                valid = orders[orders >= 0]
                assert torch.equal(valid.sort().values, torch.arange(H * W)), (name, H, W)
            else:
                for order in orders:
                    valid = order[order >= 0]
                    assert torch.equal(valid.sort().values, torch.arange(H * W)), (name, H, W)


def test_token_orders_cached_per_size_and_device():
    s = build_scan("hilbert")
    a = s.token_orders(5, 7)
    assert s.token_orders(5, 7) is a
    assert s.token_orders(7, 5) is not a
    assert s.token_orders(5, 7, "cpu") is a


def test_unknown_scan_lists_known_names():
    with pytest.raises(KeyError) as err:
        build_scan("spiral_of_doom")
    for name in list_scans():
        assert name in str(err.value)
