"""2D scan strategies for the selective scan; swap one with ``build_scan(name)`` or a model's ``scan=``.

Layers and models get their strategy through ``get_scan`` (one layer) or ``ScanSource`` (the layers of a model).
"""
from .base import ScanStrategy
from .lookup import ScanSource, get_scan, takes_width
from .registry import build_scan, get_scan_class, list_scans, register_scan

__all__ = ["ScanSource", "ScanStrategy", "build_scan", "get_scan", "get_scan_class", "list_scans", "register_scan",
           "takes_width"]
