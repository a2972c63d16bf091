"""Two CPU processes through ``tools/dist_train.sh`` (torchrun, ``--launcher pytorch``, gloo): both ranks agree, and
DDP never copies a gradient because its strides differ from its parameter's (``Grad strides do not match``)."""
import socket
import sys

import pytest

pytestmark = [pytest.mark.mm, pytest.mark.slow]

from .mm_helpers import CONFIGS, ROOT, run_tool, tiny_cls_body, write_config  # noqa: E402

PROBE = '''
"""Test-only hook: after training, every rank writes a hash of its model weights."""
import hashlib
import os

from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankProbeHook(Hook):
    def after_run(self, runner):
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        h = hashlib.sha256()
        for k, v in sorted(model.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        name = f"rank{get_rank()}_of_{get_world_size()}_{type(runner.model).__name__}.txt"
        with open(os.path.join(runner.work_dir, name), "w") as f:
            f.write(h.hexdigest())
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_training_ranks_agree(imagenet_root, tmp_path):
    (tmp_path / "rank_probe.py").write_text(PROBE)
    wd = tmp_path / "work"
    body = tiny_cls_body(imagenet_root, wd, max_epochs=2, batch=1, n=2) + (
        "custom_imports = dict(imports=['visionssm.mm', 'rank_probe'], allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL'), dict(type='RankProbeHook')]\n")
    cfg = write_config(tmp_path / "cls_dist.py", CONFIGS / "classification" / "vmamba-tiny-s1l8_8xb128_in1k.py", body)
    res = run_tool(["-c", "import subprocess, sys; sys.exit(subprocess.call(['bash', sys.argv[1], *sys.argv[2:]]))",
              ROOT / "tools" / "dist_train.sh", cfg, 2],
             env_extra={"PORT": str(_free_port()), "PYTHON": sys.executable, "PYTHONPATH": f"{ROOT}:{tmp_path}"})
    assert "Grad strides do not match bucket view strides" not in res.stdout + res.stderr
    probes = sorted(wd.glob("rank*_of_2_*.txt"))
    assert [p.name.split("_")[0] for p in probes] == ["rank0", "rank1"]
    assert all("DistributedDataParallel" in p.name for p in probes)  # really wrapped in DDP
    assert probes[0].read_text() == probes[1].read_text()  # identical weights on both ranks after training
    assert (wd / "epoch_2.pth").is_file()
