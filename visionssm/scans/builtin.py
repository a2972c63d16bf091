"""Import every shipped strategy so that it registers itself."""
from . import (
    atrous,  # noqa: F401
    bidirectional,  # noqa: F401
    cascade,  # noqa: F401
    cross,  # noqa: F401
    hilbert,  # noqa: F401
    local,  # noqa: F401
    multihead,  # noqa: F401
    multiscale,  # noqa: F401
    shuffle,  # noqa: F401
    snake,  # noqa: F401
    spatial_fusion,  # noqa: F401
    zigzag,  # noqa: F401
)
