"""What the entry points share: their opening steps, the project's errors as one
line, not a traceback; the commit a result file records."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from absl import app, flags, logging

from vaejax import checkpoint, memory
from vaejax.data import datasets
from vaejax.errors import InputError, VaejaxError


def start(argv) -> None:
    """An entry point's opening steps: refuses positional arguments; logs at
    WARNING unless ``--verbosity`` is given (Orbax logs every save at INFO);
    keeps freed memory for reuse, before JAX's first computation
    (:func:`vaejax.memory.keep_freed_memory`); notes the commit."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    memory.keep_freed_memory()
    commit()


@functools.cache
def _head() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def commit(short: bool = False) -> str | None:
    """The checkout's git commit when this process first asked (what a result file
    records; ``short``: its first 7 hex digits); None outside git. :func:`start`
    asks at once, so a run of hours names the code it loaded, not a later HEAD."""
    head = _head()
    return head[:7] if head and short else head


def debugging() -> bool:
    """True under ``VAEJAX_DEBUG=1`` or ``--verbosity=1`` (or higher): show tracebacks."""
    if os.environ.get("VAEJAX_DEBUG", "") not in ("", "0"):
        return True
    verbosity = flags.FLAGS["verbosity"]
    return verbosity.present and verbosity.value >= 1


def reports_errors(main):
    """``main`` for ``absl.app.run``, printing a VaejaxError as ``error: <message>`` on
    one line to stderr and exiting with its ``exit_code`` (2 bad usage or input, 1 a
    failed run). Other exceptions keep their traceback."""
    @functools.wraps(main)
    def wrapped(argv):
        try:
            return main(argv)
        except VaejaxError as err:
            if debugging():
                raise
            message = " ".join(str(err).split())
            print(f"error: {message}", file=sys.stderr, flush=True)
            sys.exit(err.exit_code)
    return wrapped


def one_dataset_configs(workdirs, comparison: str) -> list:
    """The saved config of each workdir; an InputError, ending in ``comparison``,
    unless they were all trained on one dataset."""
    configs = [checkpoint.load_config(Path(w)) for w in workdirs]
    names = {datasets.config_dataset(c) for c in configs}
    if len(names) > 1:
        raise InputError(f"the workdirs were trained on different datasets "
                         f"({', '.join(sorted(names))}); {comparison}")
    return configs
