"""The suite stands alone: tests that need ../shared/fixtures skip without them (saying what they check and where
the files come from), and VISIONSSM_REQUIRE_FIXTURES=1 (set by .ci/run) turns that skip into a failure. A plain
``pytest`` runs the fast tier; README's test command (what CI runs) runs every test."""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

from .conftest import REQUIRE_FIXTURES_ENV, missing_fixtures

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _options(argv):
    """(-m expression or None, --timeout seconds or None) from a pytest argument list."""
    mark = timeout = None
    for i, arg in enumerate(argv):
        if arg == "-m":
            mark = argv[i + 1]
        elif arg.startswith("--timeout="):
            timeout = float(arg.split("=", 1)[1])
    return mark, timeout


def _selects(expr, marks):
    return expr is None or Expression.compile(expr).evaluate(lambda name: name in marks)


def test_plain_pytest_is_the_fast_tier_and_the_readme_command_runs_everything():
    pyproject = (ROOT / "pyproject.toml").read_text()
    line = re.search(r'^addopts = "(.*)"$', pyproject, re.M)
    assert line, "pyproject.toml [tool.pytest.ini_options] has no one-line addopts"
    addopts = shlex.split(line.group(1).replace('\\"', '"'))
    mark, _ = _options(addopts)
    assert not _selects(mark, {"slow"}) and _selects(mark, set()) and _selects(mark, {"mm"})
    timeout = re.search(r"^timeout = (\d+)$", pyproject, re.M)
    assert timeout and 60 <= int(timeout.group(1)) < 1200, "the fast tier has a per-test timeout (pytest-timeout)"
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- setup:test -->\s*```bash\n(.+?)\n", readme)
    assert block, "README.md lacks the setup:test block"
    argv = shlex.split(block.group(1).split("&&")[-1])
    assert argv[0] == "pytest"
    ci_mark, ci_timeout = _options(addopts + argv[1:])  # the command line comes after addopts and wins
    assert _selects(ci_mark, {"slow"}) and _selects(ci_mark, set()) and _selects(ci_mark, {"slow", "mm"})
    assert ci_timeout and ci_timeout >= 1200, "slow tests need a generous limit on 2 loaded cores"
    assert "export VISIONSSM_REQUIRE_FIXTURES=1" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("value, action", [(None, "skip"), ("", "skip"), ("0", "skip"), ("1", "fail"),
                                           ("yes", "fail")])
def test_missing_folder_skips_unless_required(tmp_path, value, action):
    env = {} if value is None else {REQUIRE_FIXTURES_ENV: value}
    got, msg = missing_fixtures("parity with the official logits", tmp_path / "absent", env)
    assert got == action
    assert "parity with the official logits" in msg and str(tmp_path / "absent") in msg
    assert "shared/fixtures" in msg and REQUIRE_FIXTURES_ENV in msg


def test_present_folder_is_used(tmp_path):
    assert missing_fixtures("anything", tmp_path, {REQUIRE_FIXTURES_ENV: "1"}) == (None, "")


TINY_TEST = '''
def test_reads_a_fixture(fixtures_dir):
    """Reads the official logits of a family."""
    assert (fixtures_dir / "marker.txt").read_text() == "ok"


def test_needs_nothing():
    pass
'''


def _run_copy(root: Path, require: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_FIXTURES_ENV}
    if require:
        env[REQUIRE_FIXTURES_ENV] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsfE", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(root / "tests")], cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_copied_suite_skips_fails_and_passes(tmp_path):
    """The real conftest in a checkout copy whose ../shared/fixtures is absent, then present."""
    root = tmp_path / "checkout"
    (root / "tests").mkdir(parents=True)
    shutil.copy(HERE / "conftest.py", root / "tests" / "conftest.py")
    (root / "tests" / "test_tiny.py").write_text(TINY_TEST)

    res = _run_copy(root, require=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "1 passed, 1 skipped" in out, out
    assert "Reads the official logits of a family" in out and str(tmp_path / "shared" / "fixtures") in out, out

    res = _run_copy(root, require=True)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "1 passed" in out and "1 error" in out and "absence fails" in out, out

    (tmp_path / "shared" / "fixtures").mkdir(parents=True)
    (tmp_path / "shared" / "fixtures" / "marker.txt").write_text("ok")
    res = _run_copy(root, require=True)
    assert res.returncode == 0 and "2 passed" in res.stdout, res.stdout + res.stderr
