"""2D scan strategies for the selective scan; swap one with ``build_scan(name)`` or a model's ``scan=``."""
from .base import ScanStrategy
from .registry import build_scan, get_scan_class, list_scans, register_scan

__all__ = ["ScanStrategy", "build_scan", "get_scan_class", "list_scans", "register_scan"]
