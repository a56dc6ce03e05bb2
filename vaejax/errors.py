"""The project's error types: what went wrong, in one line, and an exit status.

The entry points under ``experiments/`` print these as ``error: <message>``
(no traceback unless ``VAEJAX_DEBUG=1``) and exit with ``exit_code``: 2 for
bad usage or input (a config, a data file, a workdir that does not fit), 1
for a run that could not go on. Each also subclasses the built-in type it
used to be raised as, so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class VaejaxError(Exception):
    """Base class; ``exit_code`` is the entry points' exit status for it."""

    exit_code = 1


class InputError(VaejaxError):
    """Bad usage or input: the command, not the run, needs changing."""

    exit_code = 2


class ConfigError(InputError, ValueError):
    """A config field with a value the run cannot use."""


class DataError(InputError, ValueError):
    """A data file or source that is missing, malformed or of the wrong layout."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file or directory that is not there."""


class CheckpointError(InputError, RuntimeError):
    """No usable checkpoint, or one that does not fit the configured run."""


class ConfigMismatchError(CheckpointError):
    """Resuming a workdir with a config that changes what its checkpoints mean."""


class WorkdirInUseError(VaejaxError, RuntimeError):
    """Another process is writing the workdir."""


class NonFiniteLossError(VaejaxError, FloatingPointError):
    """A loss went NaN or infinite; the last good checkpoint is kept."""


__all__ = ["VaejaxError", "InputError", "ConfigError", "DataError",
           "DataFileNotFoundError", "CheckpointError",
           "ConfigMismatchError", "WorkdirInUseError", "NonFiniteLossError"]
