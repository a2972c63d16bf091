"""Fast PyTorch selective scan (interim: delegates to the reference until the chunked path lands)."""
from .ref import selective_scan_ref


def selective_scan_torch(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                         return_last_state=False, out_dtype=None):
    return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, out_dtype)
