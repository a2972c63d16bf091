"""Snake scans: orders and direction codes against the official definitions, written here as plain walks."""
import json

import pytest
import torch

from visionssm.scans import build_scan, list_scans
from visionssm.scans.snake import DOWN, LEFT, RIGHT, UP, move_codes

MOVES = {(0, 1): RIGHT, (0, -1): LEFT, (-1, 0): UP, (1, 0): DOWN}


def _walk(H, W, start, first_dir, rows):
    """Boustrophedon walk: along rows (or columns) in ``first_dir`` (+1/-1), turning at each end and stepping
    toward the other side. Returns raster indices and the official codes (0, then the move into each step)."""
    i, j = start
    d = first_dir
    path, moves = [], []
    step = 1 if (i == 0 if rows else j == 0) else -1  # which way the walk advances between lines
    while 0 <= i < H and 0 <= j < W:
        path.append(i * W + j)
        ni, nj = (i, j + d) if rows else (i + d, j)
        if not (0 <= ni < H and 0 <= nj < W):
            ni, nj = (i + step, j) if rows else (i, j + step)
            d = -d
        moves.append(MOVES[(ni - i, nj - j)])
        i, j = ni, nj
    return path, [0] + moves[:-1]


def official_snake(H, W):
    """PlainMamba ``get_permute_order`` as specified in the fixture notes."""
    o1 = _walk(H, W, (0, 0), 1, True)
    o2 = _walk(H, W, (H - 1, W - 1) if H % 2 else (H - 1, 0), -1 if H % 2 else 1, True)
    o3 = _walk(H, W, (0, 0), 1, False)
    o4 = _walk(H, W, (H - 1, W - 1) if W % 2 else (0, W - 1), -1 if W % 2 else 1, False)
    return [o[0] for o in (o1, o2, o3, o4)], [o[1] for o in (o1, o2, o3, o4)]


@pytest.mark.parametrize("H,W", [(6, 6), (5, 7), (4, 3), (1, 5), (5, 1), (14, 14)])
def test_snake_orders_and_codes_match_the_official_definition(H, W):
    scan = build_scan("snake")
    orders, codes = official_snake(H, W)
    assert scan.token_orders(H, W).tolist() == orders
    assert scan.direction_codes(H, W).tolist() == codes


def test_fixture_grid_matches(fixtures_dir):
    """The fixture's model ran on a 6x6 grid (96 px / 16); every route visits every token once."""
    cfg = json.loads((fixtures_dir / "plainmamba" / "config.json").read_text())
    side = cfg["input_shape"][-1] // cfg["official_kwargs"]["backbone"]["patch_size"]
    orders = build_scan("snake").token_orders(side, side)
    assert orders.shape == (4, side * side)
    assert all(sorted(o.tolist()) == list(range(side * side)) for o in orders)
    assert torch.equal(orders[1], orders[0].flip(0)) and torch.equal(orders[3], orders[2].flip(0))


def official_diagonal(H, W, mirror):
    """SCSegamba's diagonal route (SAVSS ``sass``): per anti-diagonal, even ones by rising row, odd by rising column."""
    order, codes = [], []
    for k in range(H + W - 1):
        if k % 2 == 0:
            cells = [(i, k - i) for i in range(min(k + 1, H)) if k - i < W]
            marks = [RIGHT if j == k else DOWN for i, j in cells]
        else:
            cells = [(k - j, j) for j in range(min(k + 1, W)) if k - j < H]
            marks = [DOWN if i == k else RIGHT for i, j in cells]
        order += [i * W + (W - 1 - j if mirror else j) for i, j in cells]
        codes += marks
    return order, [0] + codes[:-1]


@pytest.mark.parametrize("H,W", [(4, 4), (3, 5), (6, 2)])
def test_diagonal_snake_matches_scsegamba(H, W):
    scan = build_scan("diagonal_snake")
    snake_orders, snake_codes = official_snake(H, W)
    orders, codes = scan.token_orders(H, W).tolist(), scan.direction_codes(H, W).tolist()
    assert orders[:2] == [snake_orders[1], snake_orders[2]] and codes[:2] == [snake_codes[1], snake_codes[2]]
    for k, mirror in ((2, False), (3, True)):
        o, c = official_diagonal(H, W, mirror)
        assert orders[k] == o and codes[k] == c
        assert sorted(o) == list(range(H * W))


@pytest.mark.parametrize("name", ["snake", "diagonal_snake"])
def test_registered_and_merge_inverts_scan(name):
    assert name in list_scans()
    scan = build_scan(name)
    x = torch.randn(2, 3, 5, 4)
    assert torch.allclose(scan.merge(scan.scan(x), 5, 4), 4 * x)


def test_move_codes_name_line_wraps_by_row_change():
    raster = torch.arange(6)[None]  # 2 x 3 grid, row-major: right, right, wrap down, right, right
    assert move_codes(raster, 3).tolist() == [[0, RIGHT, RIGHT, DOWN, RIGHT, RIGHT]]


@pytest.mark.parametrize("family", ["test_vmamba", "test_vim"])
def test_other_families_take_snake(family):
    import timm

    import visionssm  # noqa: F401  (registers the models)
    model = timm.create_model(family, scan="snake", num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3)
