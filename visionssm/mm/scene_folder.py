"""Remote-sensing scene datasets in their download layout: ``<data_root>/<class_name>/<image>`` (UC Merced, AID,
NWPU-RESISC45), with the split given by a list file of ``<class_name>/<image>`` lines (RSMamba's ``datainfo/*``)."""
import os
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

from .datasets import IMAGE_EXTENSIONS
from .registry import DATASETS

__all__ = ["SceneFolder"]

_LAYOUT = ("expected layout: <data_root>/<class_name>/<image> (e.g. UCMerced_LandUse/Images/harbor/harbor00.tif, "
           "AID/Port/port_1.jpg, NWPU-RESISC45/river/river_001.jpg) and a split file with one <class_name>/<image> "
           "per line (ann_file, e.g. RSMamba's datainfo/UC/train.txt)")


@DATASETS.register_module()
class SceneFolder(BaseDataset):
    """Labels are positions in ``classes`` (give the official order to evaluate released heads; default: the
    sorted class folders). Without ``ann_file`` every image under ``data_root`` is used."""

    def __init__(self, data_root: str, ann_file: str = "", classes: Optional[Sequence[str]] = None, **kwargs):
        self._classes = list(classes) if classes is not None else None
        super().__init__(data_root=data_root, ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        if not os.path.isdir(self.data_root):
            raise FileNotFoundError(f"SceneFolder: {self.data_root} does not exist; {_LAYOUT}")
        classes = self._classes or sorted(d.name for d in os.scandir(self.data_root) if d.is_dir())
        self._metainfo["classes"] = tuple(classes)
        index = {name: i for i, name in enumerate(classes)}
        if self.ann_file:
            if not os.path.isfile(self.ann_file):
                raise FileNotFoundError(f"SceneFolder: split file {self.ann_file} not found; {_LAYOUT}")
            with open(self.ann_file) as f:
                rel = [line.strip() for line in f if line.strip()]
        else:
            rel = [f"{name}/{fname}" for name in classes if os.path.isdir(os.path.join(self.data_root, name))
                   for fname in sorted(os.listdir(os.path.join(self.data_root, name)))
                   if fname.lower().endswith(IMAGE_EXTENSIONS)]
        items = []
        for r in rel:
            name = r.split("/")[0]
            if name not in index:
                raise ValueError(f"SceneFolder: {r!r} names class {name!r}, which is not in classes; {_LAYOUT}")
            items.append({"img_path": os.path.join(self.data_root, r), "gt_label": index[name]})
        if not items:
            raise FileNotFoundError(f"SceneFolder: no images under {self.data_root}; {_LAYOUT}")
        return items
