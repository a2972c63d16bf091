"""Import every shipped strategy so that it registers itself."""
from . import cross  # noqa: F401
