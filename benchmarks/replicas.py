"""Replicas as one program: model-steps/s of N vmapped models against one model.

    python benchmarks/replicas.py [--architectures fc conv broadcast conv_max_pool conv_nearest]
                                  [--replicas 1 2 4 8]
                                  [--layouts auto] [--batch-size 64] [--rounds 5] [--steps 10]

For each model (the FC beta-VAE of Higgins et al., Adagrad 1e-2; the
standard conv one, Adam 1e-4; ``broadcast``: ``beta_vae.py:broadcast,cpu``, the
conv encoder and the 16 x 16 spatial broadcast decoder, Adam 5e-4;
``conv_max_pool`` / ``conv_nearest``: the conv one with a pooling encoder or an
upsampling decoder) and replica count N, the train step of
``config.replicas = N`` (one jit-compiled step; ``--layouts``: vmapped
over the train state, mapped with ``lax.map``, or ``auto``, see
``vaejax.train.replica_layout``) is compiled, warmed up and timed in ``--rounds`` interleaved rounds
of ``--steps`` steps on random binary batches (N, B, 64, 64, 1). Printed:
the median steps/s, model-steps/s (N x steps/s) and its ratio to N = 1,
which is also what one model run N times, one after another, gives.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
from experiments import beta_vae  # noqa: E402
from vaejax import architectures, memory, train  # noqa: E402


VARIANTS = {"fc": None, "conv": "conv", "broadcast": "broadcast,cpu"}
RESAMPLING = {"conv_max_pool": ("max_pool", "transpose"), "conv_nearest": ("stride", "nearest")}


def _config(architecture: str, replicas: int, batch_size: int, layout: str = "auto"):
    config = beta_vae.get_config(VARIANTS.get(architecture, "conv"))
    config.downsample, config.upsample = RESAMPLING.get(architecture, ("stride", "transpose"))
    config.batch_size = batch_size
    config.replicas = replicas
    config.replica_layout = layout
    return config


def _runner(config):
    """run(n): n train steps of ``config``'s replicated step, blocking at the end."""
    model, tx = architectures.from_config(config), train.make_optimizer(config)
    step = train.make_train_step(config, model, tx)
    n = config.replicas
    shape = ((n,) if n > 1 else ()) + (config.batch_size, 64, 64, 1)
    batch = jnp.asarray(np.random.default_rng(0).random(shape) > 0.5, jnp.float32)
    holder = [train.create_train_state(config, model, tx)]

    def run(steps):
        state = holder[0]
        for _ in range(steps):
            state, metrics = step(state, batch)
        jax.block_until_ready((state, metrics))
        holder[0] = state

    return run


def measure(architecture: str, replica_counts, batch_size: int, rounds: int, steps: int,
            layout: str = "auto"):
    """{N: median steps/s}, the counts timed in interleaved rounds."""
    runners = {n: _runner(_config(architecture, n, batch_size, layout)) for n in replica_counts}
    for run in runners.values():  # compile and warm up
        run(2)
    times = {n: [] for n in runners}
    for _ in range(rounds):
        for n, run in runners.items():
            start = time.perf_counter()
            run(steps)
            times[n].append(steps / (time.perf_counter() - start))
    return {n: statistics.median(t) for n, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", nargs="+", default=["fc", "conv"],
                        choices=list(VARIANTS) + list(RESAMPLING))
    parser.add_argument("--replicas", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--layouts", nargs="+", default=["auto"], choices=train.REPLICA_LAYOUTS)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    memory.keep_freed_memory()
    counts = sorted(set(args.replicas) | {1})
    device = jax.devices()[0]
    print(f"# {device.platform} ({getattr(device, 'device_kind', '')}), "
          f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
          f"jax {jax.__version__}; batch {args.batch_size} per replica, "
          f"{args.rounds} rounds x {args.steps} steps, median")
    print("| model | layout | replicas | steps/s | model-steps/s | vs one model |")
    print("|---|---|---|---|---|---|")
    for architecture in args.architectures:
        for layout in args.layouts:
            rates = measure(architecture, counts, args.batch_size, args.rounds, args.steps,
                            layout)
            resolved = train.replica_layout(_config(architecture, 2, args.batch_size, layout))
            for n in counts:
                print(f"| {architecture} | {resolved if n > 1 else '-'} | {n} | {rates[n]:.2f} | "
                      f"{n * rates[n]:.2f} | {n * rates[n] / rates[1]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
