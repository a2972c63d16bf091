"""mmengine's Runner with safe, explicit checkpoint loading and an optional brief console.

- Every checkpoint (``load_from``, ``resume``, ``tools/test.py``) is read with ``weights_only=True``.
- Resuming and evaluating load strictly (:func:`.loading.load_model_checkpoint`): a checkpoint of another model
  stops the run with the mismatched keys instead of continuing from a half-random model.
- ``load_from`` without resume is fine-tuning: matching tensors load, the rest are named in the log, and a
  checkpoint that matches nothing is refused.
- ``brief_console``: the console shows progress, metrics and where files go; the environment, config and hook
  dumps (and mmengine's own deprecation notices) still go to the log file in the work dir.
"""
import logging
from typing import Callable, Union

from mmengine.runner import Runner

from .loading import load_model_checkpoint, normalise_checkpoint, read_checkpoint

__all__ = ["BriefConsoleRunner", "VisionSSMRunner"]

# Console records a newcomer does not need (all of them stay in the log file).
_VERBOSE_PREFIXES = ("\n---", "Config:", "Hooks will be executed", "Distributed training is not used",
                     "\"FileClient\" will be deprecated", "\"HardDiskBackend\" is the alias", "Exp name:",
                     "Load checkpoint from", "Auto resumed from")


class _BriefConsole(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(_VERBOSE_PREFIXES)


class VisionSSMRunner(Runner):
    """``Runner`` whose checkpoint loading is safe and strict where a mismatch would give silently wrong results.

    ``strict_load_from``: also load ``load_from`` strictly (evaluation).
    """

    brief_console = False
    strict_load_from = False

    def build_logger(self, *args, **kwargs):
        logger = super().build_logger(*args, **kwargs)
        if self.brief_console:
            for h in logger.handlers:
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                    h.addFilter(_BriefConsole())
        return logger

    def load_checkpoint(self, filename: str, map_location: Union[str, Callable] = "cpu", strict: bool = False,
                        revise_keys: list = [(r"^module\.", "")]):  # noqa: B006  (mmengine's signature)
        checkpoint = normalise_checkpoint(read_checkpoint(filename, map_location=map_location), self.model, revise_keys)
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        strict = strict or self._resume or self.strict_load_from
        checkpoint = load_model_checkpoint(self.model, filename, strict=strict, checkpoint=checkpoint,
                                           revise_keys=(), logger=self.logger)
        self._has_loaded = True
        self.logger.info(f"Load checkpoint from {filename}")
        return checkpoint


class BriefConsoleRunner(VisionSSMRunner):
    """:class:`VisionSSMRunner` with the brief console (``tools/train.py --brief``)."""

    brief_console = True
