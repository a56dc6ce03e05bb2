import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Allocates a block in the main thread and one in a new thread (as XLA's
# workers do), printing for each the bytes glibc had mmapped while it was
# live and the bytes free in the heap after it was freed.
_PROBE = """
import ctypes, sys, threading
import numpy as np
from vaejax import memory

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks",
                                               "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
if sys.argv[1] == "keep":
    print(memory.keep_freed_memory())
def probe(out):
    block = np.ones(96 << 20, np.uint8)
    out.append(libc.mallinfo2().hblkhd)
    del block
    out.append(libc.mallinfo2().fordblks)
main, worker = [], []
probe(main)
thread = threading.Thread(target=probe, args=(worker,))
thread.start()
thread.join()
print(*main, *worker)
"""


def _probe(mode):
    proc = subprocess.run([sys.executable, "-c", _PROBE, mode], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0 and "mallinfo2" in proc.stderr:
        pytest.skip("not glibc >= 2.33")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_keep_freed_memory_serves_large_blocks_from_the_heap_in_every_thread():
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's malloc only")
    block = 96 << 20
    # glibc's default: a fresh mapping per block, in the main thread and in a worker.
    main_mapped, _, worker_mapped, _ = map(int, _probe("default"))
    assert main_mapped >= block and worker_mapped >= block
    applied, *rest = _probe("keep")
    assert applied == "True"
    main_mapped, main_free, worker_mapped, worker_free = map(int, rest)
    assert main_mapped < block and worker_mapped < block  # from the heap...
    assert main_free >= block and worker_free >= block  # ...and kept there once freed


def test_accelerator_installed_finds_plugins_and_respects_jax_platforms(tmp_path, monkeypatch):
    from vaejax import memory

    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    (tmp_path / "jax_plugins" / "xla_fake").mkdir(parents=True)
    (tmp_path / "jax_plugins" / "xla_fake" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert memory.accelerator_installed()
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    assert not memory.accelerator_installed()
    monkeypatch.setenv("JAX_PLATFORMS", "cuda,cpu")
    assert memory.accelerator_installed()


def test_keep_freed_memory_changes_nothing_where_an_accelerator_may_run(monkeypatch):
    from vaejax import memory

    monkeypatch.setattr(memory, "accelerator_installed", lambda: True)
    calls = []
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: calls.append(name))
    assert memory.keep_freed_memory() is False
    assert calls == []
