"""Where a whole training run loses time against the bare train step.

    python benchmarks/train_loop.py [--steps 2000] [--steps-per-dispatch 1 10] [--malloc-default]

The conv beta-VAE at batch 64, data ``sample:8192`` held in memory. For each
``--steps-per-dispatch`` K (the config's ``steps_per_dispatch``), one row per
piece of the training loop added to the bare step, each the median steps/s
of 3 timed loops of ``--steps`` steps after a warm-up (in brackets: min-max):

  bare step            ``make_train_step`` without a mesh, one float32 batch
  mesh step            with the run's mesh and shardings, one uint8 batch
  + ShuffledBatches    a fresh batch per call from the prefetch thread
  + metrics, per scalar    every ``log_every`` steps, ``jax.device_get`` of
                       the pending metric dicts as they are (the naive way)
  + metrics, stacked   the same through ``train._stack_metrics`` (one array
                       per metric, as ``train_and_evaluate`` does)
  train_and_evaluate   the real run (checkpoint at the end), progress bar off
                       and on: median of its logged steps/s after the first
                       (compiling) window

Meant for accelerators, where a step of this small model takes about a
millisecond and the host's work shows; on a 2-core CPU every row is the step.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import train_step as step_bench  # this folder's; it puts experiments/ on the path
from vaejax import architectures, memory, parallel, train
from vaejax.data import dsprites, pipeline


def _timed(label, run, steps):
    run(max(steps // 10, 1))  # warm-up (and compilation)
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        run(steps)
        rates.append(steps / (time.perf_counter() - start))
    print(f"  {label:44s} {statistics.median(rates):8.1f} steps/s  "
          f"[{min(rates):.0f}-{max(rates):.0f}]", flush=True)


def _loop(step, holder, batches, k, log_every=None, fetch=None):
    """run(n): n steps of ``step`` from ``holder[0]``, batches from ``batches()``."""
    def run(n):
        state, pending = holder[0], []
        for i in range(max(n // k, 1)):
            state, metrics = step(state, batches())
            if fetch is not None:
                pending.append(metrics)
                if ((i + 1) * k) % log_every == 0:
                    fetch(pending)
                    pending.clear()
        jax.block_until_ready((state, metrics))
        holder[0] = state
    return run


def _per_scalar(pending):
    for metrics in jax.device_get(pending):
        assert np.all(np.isfinite(metrics["loss"]))


def _stacked(pending):
    assert np.all(np.isfinite(jax.device_get(train._stack_metrics(pending))["loss"]))  # pylint: disable=protected-access


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="steps per timed loop")
    parser.add_argument("--steps-per-dispatch", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--malloc-default", action="store_true",
                        help="leave glibc's malloc as it is (no memory.keep_freed_memory)")
    args = parser.parse_args()
    kept = not args.malloc_default and memory.keep_freed_memory()
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind} ({jax.default_backend()}); "
          f"malloc: {'keep_freed_memory' if kept else 'default'}; conv beta-VAE, batch 64, "
          f"{args.steps} steps per timing", flush=True)
    data = dsprites.load("sample:8192")
    for k in args.steps_per_dispatch:
        if args.steps % k:
            parser.error(f"--steps {args.steps} is not a multiple of {k}")
        log_every = step_bench.whole_run_log_every(k)
        config = step_bench._config("conv", 64)  # pylint: disable=protected-access
        config.steps_per_dispatch = k
        print(f"{k} step(s) per dispatch:", flush=True)
        model, tx = architectures.from_config(config), train.make_optimizer(config)
        mesh = parallel.data_mesh()
        shape = (64, 64, 64, 1) if k == 1 else (k, 64, 64, 64, 1)
        ones = np.random.default_rng(0).random(shape) > 0.5

        bare = [train.create_train_state(config, model, tx)]
        floats = jnp.asarray(ones, jnp.float32)
        _timed("bare step", _loop(train.make_train_step(config, model, tx, steps=k), bare,
                                  lambda: floats, k), args.steps)

        meshed = [train.create_train_state(config, model, tx, mesh)]
        step = train.make_train_step(config, model, tx, mesh, steps=k)
        fixed = parallel.global_batch(ones.astype(np.uint8), mesh, stacked=k > 1)
        _timed("mesh step", _loop(step, meshed, lambda: fixed, k), args.steps)

        batches = pipeline.ShuffledBatches(
            data.imgs, batch_size=64, seed=0, dtype=np.uint8, steps_per_item=k,
            transform=lambda rows: parallel.global_batch(rows, mesh, stacked=k > 1))
        try:
            _timed("  + ShuffledBatches", _loop(step, meshed, batches.__next__, k), args.steps)
            _timed("    + metrics, per scalar", _loop(step, meshed, batches.__next__, k,
                                                      log_every, _per_scalar), args.steps)
            _timed("    + metrics, stacked", _loop(step, meshed, batches.__next__, k,
                                                   log_every, _stacked), args.steps)
        finally:
            batches.close()
        for progress in (False, True):
            rate = step_bench._whole_run(64, args.steps, log_every, k,  # pylint: disable=protected-access
                                         progress=progress)
            print(f"  {'train_and_evaluate, progress bar ' + ('on' if progress else 'off'):44s} "
                  f"{rate:8.1f} steps/s", flush=True)


if __name__ == "__main__":
    main()
