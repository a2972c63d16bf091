"""The op ships as ``visionssm.kernels`` (from ``kernels/``) in editable installs, checkouts and wheels."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = "import visionssm.kernels as k, visionssm; print(k.__file__); print(visionssm.__version__)"


def _probe(cwd, env_path=None):
    env = None
    if env_path is not None:
        import os
        env = dict(os.environ, PYTHONPATH=str(env_path))
    return subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_import_from_outside_the_checkout(tmp_path):
    res = _probe(tmp_path)
    assert res.returncode == 0, res.stderr
    assert Path(res.stdout.splitlines()[0]).resolve().parent.name == "kernels"


@pytest.mark.slow
def test_import_from_checkout_root_shadowing_the_install():
    res = _probe(ROOT)
    assert res.returncode == 0, res.stderr
    assert Path(res.stdout.splitlines()[0]).resolve() == (ROOT / "kernels" / "__init__.py").resolve()


def test_no_top_level_kernels_module(tmp_path):
    res = subprocess.run([sys.executable, "-c", "import importlib.util as u; print(u.find_spec('kernels'))"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "None", f"a top-level `kernels` module is importable: {res.stdout}"


@pytest.mark.slow
def test_wheel_contains_and_imports_visionssm_kernels(tmp_path):
    wheel_dir = tmp_path / "wheel"
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                          str(wheel_dir), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    wheel = next(wheel_dir.glob("visionssm-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "visionssm/kernels/selective_scan.py" in names
    assert not any(n.startswith("kernels/") for n in names), "wheel ships a top-level kernels package"
    target = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    res = _probe(tmp_path, env_path=target)
    assert res.returncode == 0, res.stderr
    assert Path(res.stdout.splitlines()[0]).resolve() == (target / "visionssm" / "kernels" / "__init__.py").resolve()
