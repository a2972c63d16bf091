"""DirectionalSSM replaces the op's elementwise NaN/Inf check with one reduction; it must still catch both."""
import pytest
import torch

from visionssm.layers import DirectionalSSM


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_delta_raises_clear_error(bad):
    ssm = DirectionalSSM(8, d_state=2, dt_rank=2, num_directions=2)
    xs = torch.randn(1, 2, 8, 5)
    xs[0, 1, 3, 2] = bad
    with pytest.raises(ValueError, match="delta contains NaN or Inf"):
        ssm(xs)


def test_finite_input_passes_and_matches_shape():
    ssm = DirectionalSSM(8, d_state=2, dt_rank=2, num_directions=2)
    assert ssm(torch.randn(1, 2, 8, 5)).shape == (1, 2, 8, 5)
