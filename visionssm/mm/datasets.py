"""ImageNet-style folder dataset: ``<data_root>/<split>/<class_name>/<image>``."""
import os
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

from .registry import DATASETS

__all__ = ["ImageNetFolder", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

_LAYOUT = ("expected ImageNet folder layout:\n"
           "  <data_root>/train/<class_name>/<image>.JPEG   (e.g. data/imagenet/train/n01440764/...)\n"
           "  <data_root>/val/<class_name>/<image>.JPEG     (validation images sorted into the same class folders)\n"
           "set data_root in the config or with --cfg-options train_dataloader.dataset.data_root=...")


@DATASETS.register_module()
class ImageNetFolder(BaseDataset):
    """Labels are the indices of the sorted class folder names (as torchvision/timm ImageFolder).

    ``classes`` fixes the class list (e.g. read from the train split) so that every split shares label ids;
    by default the folders of ``<data_root>/<split>`` are used.
    """

    def __init__(self, data_root: str, split: str = "train", classes: Optional[Sequence[str]] = None, **kwargs):
        self.split = split
        self._classes = list(classes) if classes is not None else None
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        root = os.path.join(self.data_root, self.split)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"ImageNetFolder: {root} does not exist; {_LAYOUT}")
        classes = self._classes or sorted(d.name for d in os.scandir(root) if d.is_dir())
        if not classes:
            raise FileNotFoundError(f"ImageNetFolder: no class folders in {root}; {_LAYOUT}")
        self._metainfo["classes"] = tuple(classes)
        items = []
        for label, name in enumerate(classes):
            folder = os.path.join(root, name)
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"ImageNetFolder: class folder {folder} missing; {_LAYOUT}")
            for fname in sorted(os.listdir(folder)):
                if fname.lower().endswith(IMAGE_EXTENSIONS):
                    items.append({"img_path": os.path.join(folder, fname), "gt_label": label})
        if not items:
            raise FileNotFoundError(f"ImageNetFolder: no images under {root}; {_LAYOUT}")
        return items
