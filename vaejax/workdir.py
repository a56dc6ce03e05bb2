"""A training workdir: one writer at a time, and resuming only a run of the same config.

``lock(workdir)`` holds an exclusive OS file lock on ``workdir/.lock``
(``flock``) while a run writes there; the kernel releases it when the
process ends, however it ends, so a crash or SIGKILL leaves no stale lock.
The file records the holder (pid, host, start time) for the error a second
writer gets.

``check_resume(saved, requested)`` compares the config a workdir was
started with (its ``config.json``) with the one a resumed run asks for:
fields in :data:`RESUMABLE_FIELDS` (run length, logging, checkpointing,
learning rates and schedules, how the step is laid out) may change; any
other difference would mix two runs in one train state and is refused.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
from pathlib import Path
from typing import Iterator, Mapping

import jax

from vaejax.errors import ConfigMismatchError, WorkdirInUseError

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None

LOCK_FILE = ".lock"
SHIPPED_MARKER = "pretrained.json"  # vaejax.pretrained's read-only workdirs

# Fields a resumed run may change: they do not alter the train state's
# structure, nor what a step computes from a given state and batch beyond
# the learning rate and its schedules.
RESUMABLE_FIELDS = frozenset({
    "name", "num_steps", "log_every", "checkpoint_every", "keep_checkpoints", "progress",
    "learning_rate", "lr_warmup_steps", "discriminator_learning_rate",
    "beta_warmup_steps", "beta_anneal_steps", "beta_anneal_begin", "capacity_steps",
    "steps_per_dispatch", "replica_layout", "conv_impl", "shard_params",
})


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return (f"process {info['pid']} (host {info['host']}, since {info['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def lock(workdir: str | os.PathLike) -> Iterator[None]:
    """Holds ``workdir``'s exclusive lock for the ``with`` block (process 0 only).

    Raises WorkdirInUseError at once if another process holds it, or if
    ``workdir`` is a shipped pretrained model (:mod:`vaejax.pretrained`). The lock
    is per open file: taking it twice in one process also fails.
    """
    if (Path(workdir) / SHIPPED_MARKER).is_file():
        raise WorkdirInUseError(f"workdir {workdir} is a shipped pretrained model, which is "
                                "read-only: train in a copy of it")
    if fcntl is None or jax.process_index() != 0:
        yield
        return
    path = Path(workdir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise WorkdirInUseError(f"workdir {workdir} is in use by {_holder(path)}") from None
    try:
        since = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(dict(pid=os.getpid(), host=socket.gethostname(),
                                      since=since)).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _flat(tree: Mapping, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


_ABSENT = object()


def config_changes(saved: Mapping, requested: Mapping,
                   defaults: Mapping | None = None) -> tuple[list, list]:
    """(refused, accepted): lists of ``(field, saved value, requested value)``
    for the fields that differ, split by :data:`RESUMABLE_FIELDS`.

    Configs are compared as JSON values (a tuple equals a list); a field
    absent on one side takes its value from ``defaults`` when it has one.
    """
    saved = _flat(json.loads(json.dumps(dict(saved))))
    requested = _flat(json.loads(json.dumps(dict(requested))))
    defaults = defaults or {}
    refused, accepted = [], []
    for field in sorted(set(saved) | set(requested)):
        default = defaults.get(field, _ABSENT)
        old, new = saved.get(field, default), requested.get(field, default)
        if old == new:
            continue
        change = (field, old, new)
        (accepted if field in RESUMABLE_FIELDS else refused).append(change)
    return refused, accepted


def describe(changes) -> str:
    """``field saved -> requested, ...`` for :func:`config_changes`' lists."""
    def show(value):
        return "(unset)" if value is _ABSENT else repr(value)
    return ", ".join(f"{field} {show(old)} -> {show(new)}" for field, old, new in changes)


def check_resume(workdir, saved: Mapping, requested: Mapping,
                 defaults: Mapping | None = None) -> list:
    """Raises ConfigMismatchError if resuming ``workdir`` with ``requested``
    would change a field outside :data:`RESUMABLE_FIELDS`; else returns the
    accepted changes (see :func:`config_changes`)."""
    refused, accepted = config_changes(saved, requested, defaults)
    if refused:
        raise ConfigMismatchError(
            f"workdir {workdir} holds checkpoints of another config: {describe(refused)}; "
            "these change what the checkpoints mean, so the run is not resumed: train into "
            "a new --workdir, or restore the saved values")
    return accepted


__all__ = ["lock", "check_resume", "config_changes", "describe", "RESUMABLE_FIELDS",
           "LOCK_FILE"]
