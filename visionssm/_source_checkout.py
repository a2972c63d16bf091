"""Let ``visionssm.kernels`` resolve when visionssm is imported straight from a source checkout.

The op's sources live in the top-level ``kernels/`` folder and are shipped as ``visionssm.kernels``
(setuptools ``package-dir``). Installed wheels and editable installs map this themselves, but a plain
checkout on ``sys.path`` (``python -c ...`` run from the repository root shadows the editable finder)
would not find it; this finder maps that one name to ``<checkout>/kernels`` and nothing else.
"""
import importlib.abc
import importlib.util
import os
import sys

_PACKAGE = "visionssm.kernels"


class _KernelsFinder(importlib.abc.MetaPathFinder):
    def __init__(self, folder: str):
        self.folder = folder

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _PACKAGE:
            return None
        return importlib.util.spec_from_file_location(
            fullname, os.path.join(self.folder, "__init__.py"), submodule_search_locations=[self.folder])


def install() -> None:
    package_dir = os.path.dirname(os.path.abspath(__file__))
    if os.path.isdir(os.path.join(package_dir, "kernels")):
        return  # installed layout: visionssm/kernels is a real sub-package
    folder = os.path.join(os.path.dirname(package_dir), "kernels")
    if os.path.isfile(os.path.join(folder, "selective_scan.py")) and not any(
            isinstance(f, _KernelsFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _KernelsFinder(folder))
