"""visionssm's torchvision-backed ``mmcv._ext`` (for mmcv-lite), op by op against torchvision and mmcv semantics."""
import pytest
import torch

pytestmark = pytest.mark.mm

mmcv = pytest.importorskip("mmcv")
import visionssm.mm  # noqa: E402  (installs the compatibility module before mmcv.ops)
from visionssm.mm import mmcv_ext_compat as compat  # noqa: E402

requires_compat = pytest.mark.skipif(not compat.is_installed(), reason="a compiled mmcv is installed: nothing to shim")


def _boxes(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 50
    wh = torch.rand(n, 2, generator=g) * 30 + 2
    return torch.cat([xy, xy + wh], 1), torch.rand(n, generator=g)


def _nms_loop(boxes, scores, thr, offset):
    """mmcv's documented greedy NMS, written as a plain loop (the oracle)."""
    order = scores.argsort(descending=True).tolist()
    area = (boxes[:, 2] - boxes[:, 0] + offset) * (boxes[:, 3] - boxes[:, 1] + offset)
    keep, dead = [], set()
    for a, i in enumerate(order):
        if i in dead:
            continue
        keep.append(i)
        for j in order[a + 1:]:
            w = max(0.0, float(min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]) + offset))
            h = max(0.0, float(min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]) + offset))
            inter = w * h
            if inter / (float(area[i]) + float(area[j]) - inter) > thr:
                dead.add(j)
    return keep


@requires_compat
def test_import_installs_ext_and_mmdet_models_import():
    import mmcv.ops  # noqa: F401
    import mmdet.models  # noqa: F401
    import mmseg.models  # noqa: F401
    assert visionssm.mm.MMCV_EXT_COMPAT
    import sys
    assert sys.modules["mmcv._ext"] is compat


@requires_compat
@pytest.mark.parametrize("offset", [0, 1])
def test_nms_matches_loop_and_torchvision(offset):
    from mmcv.ops import nms
    from torchvision.ops import nms as tv_nms
    boxes, scores = _boxes(60)
    dets, keep = nms(boxes, scores, iou_threshold=0.3, offset=offset)
    assert keep.tolist() == _nms_loop(boxes, scores, 0.3, offset)
    torch.testing.assert_close(dets[:, 4], scores[keep])
    if offset == 0:
        assert keep.tolist() == tv_nms(boxes, scores, 0.3).tolist()


@requires_compat
def test_batched_nms_keeps_classes_apart():
    from mmcv.ops import batched_nms
    boxes, scores = _boxes(40, seed=1)
    idxs = torch.arange(40) % 3
    dets, keep = batched_nms(boxes, scores, idxs, {"type": "nms", "iou_threshold": 0.5})
    expected = []
    for c in range(3):
        sel = (idxs == c).nonzero().squeeze(1)
        expected += sel[_nms_loop(boxes[sel], scores[sel], 0.5, 0)].tolist()
    assert sorted(keep.tolist()) == sorted(expected)
    assert torch.all(dets[1:, 4] <= dets[:-1, 4])  # sorted by score


@requires_compat
@pytest.mark.parametrize("method", ["naive", "linear", "gaussian"])
def test_soft_nms_semantics(method):
    from mmcv.ops import soft_nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    dets, inds = soft_nms(boxes, scores, iou_threshold=0.5, sigma=0.5, min_score=1e-3, method=method)
    assert inds[0] == 0 and dets[0, 4] == pytest.approx(0.9)
    iou01 = 81 / (100 + 100 - 81)
    if method == "naive":  # hard suppression: box 1 (IoU 0.68) and box 3 (IoU 0.9) are gone
        assert inds.tolist() == [0, 2]
    elif method == "linear":
        assert dict(zip(inds.tolist(), dets[:, 4].tolist()))[1] == pytest.approx(0.8 * (1 - iou01), rel=1e-5)
    else:
        assert dict(zip(inds.tolist(), dets[:, 4].tolist()))[1] == pytest.approx(0.8 * torch.exp(
            torch.tensor(-(iou01 ** 2) / 0.5)).item(), rel=1e-5)


def _bilinear(feat, y, x):
    h, w = feat.shape[-2:]
    if y < -1 or y > h or x < -1 or x > w:
        return torch.zeros(feat.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * feat[:, y0, x0] + (1 - ly) * lx * feat[:, y0, x1]
            + ly * (1 - lx) * feat[:, y1, x0] + ly * lx * feat[:, y1, x1])


def _roi_align_loop(feat, roi, out, scale, ratio, aligned):
    """mmcv's RoIAlign definition: average of bilinear samples on a regular grid in each bin."""
    off = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = [float(v) * scale - off for v in roi[1:]]
    rw, rh = x2 - x1, y2 - y1
    if not aligned:
        rw, rh = max(rw, 1.0), max(rh, 1.0)
    bh, bw = rh / out, rw / out
    gh = ratio if ratio > 0 else int(torch.ceil(torch.tensor(rh / out)))
    gw = ratio if ratio > 0 else int(torch.ceil(torch.tensor(rw / out)))
    res = torch.zeros(feat.shape[1], out, out)
    for i in range(out):
        for j in range(out):
            acc = torch.zeros(feat.shape[1])
            for iy in range(gh):
                for ix in range(gw):
                    yy = y1 + i * bh + (iy + 0.5) * bh / gh
                    xx = x1 + j * bw + (ix + 0.5) * bw / gw
                    acc += _bilinear(feat[int(roi[0])], yy, xx)
            res[:, i, j] = acc / max(gh * gw, 1)
    return res


@requires_compat
@pytest.mark.parametrize("aligned,ratio", [(True, 0), (False, 2), (True, 2)])
def test_roi_align_forward_matches_definition(aligned, ratio):
    from mmcv.ops import RoIAlign
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 3, 12, 10, generator=g)
    rois = torch.tensor([[0, 2.0, 3.0, 15.0, 17.0], [1, 0.5, 0.0, 9.0, 22.0], [1, 30.0, 30.0, 33.0, 34.0]])
    op = RoIAlign(output_size=3, spatial_scale=0.5, sampling_ratio=ratio, aligned=aligned)
    out = op(feat, rois)
    for k in range(rois.shape[0]):
        torch.testing.assert_close(out[k], _roi_align_loop(feat, rois[k], 3, 0.5, ratio, aligned), atol=1e-5,
                                   rtol=1e-5)


@requires_compat
def test_roi_align_backward_gradcheck():
    from mmcv.ops import roi_align
    feat = torch.randn(1, 2, 6, 7, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 0.7, 1.1, 4.3, 5.2], [0, 2.0, 0.5, 6.4, 3.9]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: roi_align(f, rois, (2, 3), 1.0, 2, "avg", True), (feat,))


@requires_compat
def test_roi_align_max_mode_raises_clear_error():
    from mmcv.ops import RoIAlign
    with pytest.raises(compat.MMCVOpUnavailableError, match="pool_mode='max'"):
        RoIAlign(2, pool_mode="max")(torch.randn(1, 1, 4, 4), torch.tensor([[0, 0.0, 0.0, 3.0, 3.0]]))


@requires_compat
def test_sigmoid_focal_loss_matches_closed_form_and_autograd():
    from mmcv.ops import sigmoid_focal_loss
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 3, 4, 1, 2, 0])  # 4 = background (no positive class)
    weight = torch.rand(4, generator=g, dtype=torch.float64)
    loss = sigmoid_focal_loss(logits, target, 2.0, 0.25, None, "sum")
    p = logits.sigmoid()
    onehot = torch.zeros(6, 5, dtype=torch.float64).scatter_(1, target[:, None], 1)[:, :4]
    ref = -(0.25 * onehot * (1 - p) ** 2 * p.log() + 0.75 * (1 - onehot) * p ** 2 * (1 - p).log()).sum()
    torch.testing.assert_close(loss, ref)
    g1, = torch.autograd.grad(loss, logits)
    g2, = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(g1, g2)
    # per-class weights (mmcv indexes them by the target's class)
    lw = sigmoid_focal_loss(logits[:2], target[:2], 2.0, 0.25, weight, "none")
    lu = sigmoid_focal_loss(logits[:2], target[:2], 2.0, 0.25, None, "none")
    torch.testing.assert_close(lw, lu * weight[target[:2]][:, None])


@requires_compat
def test_unsupported_op_names_op_and_fix():
    from mmcv.ops import DeformConv2d
    conv = DeformConv2d(2, 2, 3, padding=1)
    with pytest.raises(compat.MMCVOpUnavailableError, match="deform_conv_forward.*mim install mmcv"):
        conv(torch.randn(1, 2, 5, 5), torch.zeros(1, 18, 5, 5))
