"""Classification pictures for ``tools/test.py --show-dir`` / ``--show`` (mmdet and mmseg bring their own hooks)."""
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.hooks import Hook

from .registry import HOOKS

__all__ = ["ClsVisualizationHook"]


@HOOKS.register_module()
class ClsVisualizationHook(Hook):
    """Writes each test image with its predicted label and score (and the true label when wrong) to ``out_dir``.

    Args:
        draw: off unless set (``tools/test.py --show-dir`` / ``--show`` turn it on).
        out_dir: folder for ``<image name>.png`` (relative paths are inside the run's work dir).
        show: also display each picture (needs a display); ``wait_time``: seconds per picture.
        interval: draw every ``interval``-th batch.
    """

    priority = "NORMAL"

    def __init__(self, draw: bool = False, out_dir: Optional[str] = None, show: bool = False,
                 wait_time: float = 2.0, interval: int = 1):
        self.draw, self.out_dir, self.show, self.wait_time, self.interval = draw, out_dir, show, wait_time, interval

    def before_test(self, runner) -> None:
        if self.draw and self.out_dir is not None:
            self.out_dir = osp.join(runner.work_dir, self.out_dir)  # an absolute out_dir stays as it is
            os.makedirs(self.out_dir, exist_ok=True)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[Sequence[dict]] = None):
        if not self.draw or not outputs or batch_idx % self.interval:
            return
        classes = list((getattr(runner.test_dataloader.dataset, "metainfo", None) or {}).get("classes", ()))
        for sample in outputs:
            path = sample.get("img_path")
            if not path:
                continue
            picture = self._picture(path, sample, classes)
            if self.out_dir is not None:
                stem = osp.splitext(osp.basename(path))[0]
                picture.save(osp.join(self.out_dir, f"{batch_idx:05d}_{stem}.png"))
            if self.show:
                import matplotlib.pyplot as plt

                plt.imshow(picture)
                plt.axis("off")
                plt.show(block=False)
                plt.pause(self.wait_time)
                plt.close()

    @staticmethod
    def _picture(path: str, sample: dict, classes: list):
        from PIL import Image, ImageDraw

        def name(i: int) -> str:
            return str(classes[i]) if 0 <= i < len(classes) else str(i)

        img = Image.open(path).convert("RGB")
        scale = max(1, 256 // max(img.size))
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        pred = int(sample["pred_label"])
        score = float(sample["pred_score"][pred])
        text = f"pred {name(pred)} ({score:.2f})"
        gt = sample.get("gt_label")
        wrong = gt is not None and int(gt) != pred
        if wrong:
            text += f"  true {name(int(gt))}"
        canvas = Image.new("RGB", (max(img.width, 8 * len(text) + 8), img.height + 18), (255, 255, 255))
        canvas.paste(img, (0, 18))
        ImageDraw.Draw(canvas).text((4, 3), text, fill=(200, 0, 0) if wrong else (0, 110, 0))
        return canvas
