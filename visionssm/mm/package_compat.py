"""Let mmengine 0.10.7 resolve ``mmdet::`` / ``mmseg::`` config bases without ``pkg_resources``.

mmengine 0.10.7 finds installed OpenMMLab packages (for ``_base_ = 'mmdet::...'``) through ``pkg_resources``,
which setuptools >= 81 no longer ships. When (and only when) ``pkg_resources`` is missing, we replace mmengine's
``is_installed`` / ``get_installed_path`` with ``importlib.metadata`` / ``importlib.util`` equivalents.
"""
import importlib.metadata
import importlib.util
import os.path as osp

__all__ = ["get_installed_path", "install", "is_installed"]


def is_installed(package: str) -> bool:
    """True if a distribution or an importable module of that name exists."""
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def get_installed_path(package: str) -> str:
    """Folder of the package's top-level module (``mmdet`` for mmdet, ``mmseg`` for mmsegmentation)."""
    module = package
    try:
        dist = importlib.metadata.distribution(package)
        top = (dist.read_text("top_level.txt") or "").split()
        if top and importlib.util.find_spec(package) is None:
            module = top[0]
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"cannot locate the installed package {package!r}")
    return osp.dirname(spec.origin)


def install() -> bool:
    """Patch mmengine's package lookups if ``pkg_resources`` is unavailable; returns True if it patched."""
    try:
        import pkg_resources  # noqa: F401
        return False
    except ImportError:
        pass
    import mmengine.config.config as config_mod
    import mmengine.utils as utils_mod
    import mmengine.utils.package_utils as pkg_mod
    for mod in (pkg_mod, utils_mod, config_mod):
        if hasattr(mod, "is_installed"):
            mod.is_installed = is_installed
        if hasattr(mod, "get_installed_path"):
            mod.get_installed_path = get_installed_path
    return True
