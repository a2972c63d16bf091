"""The batch helpers every data preprocessor uses."""
import torch

from visionssm.mm.batching import as_sample_list, pad_stack


def test_as_sample_list_from_collated_dicts_and_lists():
    collated = {"gt_label": [3, 5], "label": torch.zeros(2, 4, 4)}
    samples = as_sample_list(collated)
    assert [s["gt_label"] for s in samples] == [3, 5] and samples[1]["label"].shape == (4, 4)
    assert as_sample_list([{"a": 1}]) == [{"a": 1}]
    assert as_sample_list(None) == [] and as_sample_list({}) == []


def test_pad_stack_pads_to_the_rounded_largest_size():
    out = pad_stack([torch.ones(2, 5, 7), torch.ones(2, 6, 3)], value=-1.0, size_divisor=4)
    assert out.shape == (2, 2, 8, 8)
    assert out[0, :, :5, :7].eq(1).all() and out[0, :, 5:].eq(-1).all() and out[1, :, :, 3:].eq(-1).all()
