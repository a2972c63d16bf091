"""mmengine looks up ``<scope>.registry`` when a config names ``type='visionssm.X'`` or ``default_scope='visionssm'``.

Importing this module needs mmengine (the ``[mm]`` extra); ``import visionssm`` never imports it.
"""
from visionssm.mm.registry import *  # noqa: F401,F403
from visionssm.mm.registry import __all__  # noqa: F401
