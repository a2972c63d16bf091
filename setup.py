"""Package discovery; all other metadata lives in pyproject.toml.

``kernels/`` (the selective-scan op) is shipped as ``visionssm.kernels`` so that no top-level module
named ``kernels`` is installed (an unrelated PyPI package owns that name).
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["visionssm", "visionssm.*"]) + ["visionssm.kernels"],
    package_dir={"visionssm.kernels": "kernels"},
)
