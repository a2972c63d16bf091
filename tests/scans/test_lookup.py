"""The one scan lookup: ``get_scan`` for a layer, ``ScanSource`` for the layers of a model."""
import pytest

from visionssm.layers import SS2D
from visionssm.scans import ScanSource, ScanStrategy, build_scan, get_scan, list_scans, takes_width
from visionssm.scans.hilbert import HilbertScan
from visionssm.scans.multiscale import MultiScaleScan


def test_get_scan_builds_names_and_passes_instances_through():
    assert type(get_scan("hilbert", {"transposed": True})) is HilbertScan
    assert get_scan("hilbert", {"transposed": True}).num_directions == 4
    instance = build_scan("zigzag")
    assert get_scan(instance) is instance


def test_get_scan_gives_the_width_only_to_strategies_that_take_it():
    assert get_scan("multiscale", d_inner=12).d_inner == 12
    assert get_scan("multiscale", {"d_inner": 6}, d_inner=12).d_inner == 6  # scan_kwargs win
    assert type(get_scan("cross", d_inner=12)).__name__ == "CrossScan"
    assert {n for n in list_scans() if takes_width(type(get_scan(n, d_inner=4)))} == {"multiscale", "spatial_fusion"}


def test_get_scan_rejects_bad_arguments_with_one_clear_line():
    with pytest.raises(ValueError, match="scan_kwargs is only used with a scan name"):
        get_scan(build_scan("cross"), {"transposed": True})
    with pytest.raises(TypeError, match="registered scan name or a visionssm.scans.ScanStrategy"):
        get_scan(42)
    with pytest.raises(KeyError, match="unknown scan 'nope'"):
        get_scan("nope")
    with pytest.raises(ValueError, match="'ncssd' is VSSD's non-causal SSD token mixer"):
        get_scan("ncssd")


def test_scan_source_shares_stateless_strategies():
    source = ScanSource("hilbert")
    first = source(16)
    assert source(32) is first and isinstance(first, ScanStrategy)
    instance = build_scan("cross")
    assert ScanSource(instance)(8) is instance and ScanSource(instance)(16) is instance


def test_scan_source_builds_or_copies_strategies_with_weights_per_layer():
    source = ScanSource("multiscale")
    a, b = source(8), source(16)
    assert a is not b and (a.d_inner, b.d_inner) == (8, 16)
    instance = MultiScaleScan(d_inner=8)
    copies = ScanSource(instance)
    c, d = copies(8), copies(8)
    assert c is not d and c is not instance and c.conv.weight is not instance.conv.weight


def test_ss2d_uses_a_given_strategy_as_is_and_looks_names_up_once():
    strategy = MultiScaleScan(d_inner=32)
    assert SS2D(16, scan=strategy).scan is strategy
    assert SS2D(16, scan="spatial_fusion").scan.d_inner == 32


def test_hook_flags_and_forward_signature_come_from_the_base_class():
    import inspect
    base = inspect.signature(ScanStrategy.forward).parameters
    for name in list_scans():
        cls = type(get_scan(name, d_inner=4))
        assert list(inspect.signature(cls.forward).parameters) == list(base), name
        assert isinstance(cls.wants_raw_input, bool) and isinstance(cls.applies_out_norm, bool)
    assert MultiScaleScan.wants_raw_input and MultiScaleScan.applies_out_norm
