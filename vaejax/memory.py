"""Process-wide malloc settings that make XLA:CPU's large buffers cheap to reuse.

XLA:CPU allocates each execution's temporaries as one block (90.5 MB for the
conv beta-VAE's train step at batch 64) and frees it when the step ends.
glibc's malloc serves blocks that large with a fresh ``mmap`` and returns
them with ``munmap``, so every step page-faults the whole block in again:
on a 2-core CPU, 23,000 page faults and ~50 ms of kernel time per step.
Blocks requested from XLA's worker threads go to per-thread arenas, which
cannot hold a block that large at all, so raising the mmap threshold alone
does not help them; :func:`keep_freed_memory` also puts every thread on the
main arena.

Entry points (``experiments.run``, ``experiments.sweep``,
``experiments.evaluate``, ``experiments.metric_table``, the benchmarks) call
it; the library never does, as it changes the whole process.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
import sys

# <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def accelerator_installed() -> bool:
    """Whether JAX may run on an accelerator here, found without starting JAX.

    True when a PJRT plugin (``jax_plugins``: CUDA, ROCm, ...), ``libtpu`` or
    a CUDA build of jaxlib is installed, unless ``JAX_PLATFORMS`` names only
    ``cpu``.
    """
    platforms = {p.strip() for p in os.environ.get("JAX_PLATFORMS", "").split(",") if p.strip()}
    if platforms and platforms <= {"cpu"}:
        return False
    if importlib.util.find_spec("libtpu") is not None:
        return True
    spec = importlib.util.find_spec("jax_plugins")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if any(not name.startswith(("_", ".")) for name in os.listdir(location)):
            return True
    try:
        return "cuda" in importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return False


def keep_freed_memory(threshold_bytes: int = 1 << 30, *, cpu_only: bool = True) -> bool:
    """Makes glibc's malloc keep freed blocks below ``threshold_bytes`` for reuse.

    Sets the mmap and trim thresholds to ``threshold_bytes`` and the number of
    malloc arenas to one, so blocks of tens of MB come from the heap and stay
    there once freed. Measured on a 2-core CPU: the conv beta-VAE's train
    step at batch 64 ran 1.08-1.3x the steps/s (separate processes, with and
    without), the six metrics of a conv encoder took 149.9 s instead of
    248.6 s (``benchmarks/metrics.py``, with the thresholds alone).

    Call it before JAX runs its first computation: a thread that has already
    allocated keeps its own arena. Memory freed stays with the process.
    Returns False, changing nothing, where malloc is not glibc's, or with
    ``cpu_only`` where an accelerator may be used (:func:`accelerator_installed`):
    on a 16-core H200 machine, one arena made compiling the FC train step
    take over 150 s instead of 11 s.
    """
    if not sys.platform.startswith("linux") or (cpu_only and accelerator_installed()):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    applied = [bool(mallopt(option, value)) for option, value in (
        (_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, threshold_bytes),
        (_M_TRIM_THRESHOLD, threshold_bytes))]
    return all(applied)
