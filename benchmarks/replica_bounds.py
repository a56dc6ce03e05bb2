"""Why replicas do not speed a CPU up: what one model leaves unused.

    python benchmarks/replica_bounds.py [--replicas 4] [--batch-size 64]

Replicas can beat one model run N times only by using capacity that the one
model leaves idle. Three measurements, each one model against N:

1. Cores: one model's train step (FC and conv, batch 64) on one core
   against all cores (a child process with its CPU affinity set). Near-linear
   scaling means the single model already keeps every core busy.
2. Products: GFLOP/s of the FC model's matrix products (forward, input
   gradient, weight gradient of each dense layer) for one model and for N
   vmapped models (``jax.vmap`` of the one-model product, as a replicated
   step compiles it). Replicas share no operand, so N models make N products
   of the same shape; no larger, more efficient product appears.
3. Memory: streaming bandwidth (read + write) for an array that fits the
   cache and one that does not, beside the bytes one train step touches
   (XLA's cost analysis), which N models need N times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
from experiments import beta_vae  # noqa: E402
from vaejax import architectures, train  # noqa: E402


def _seconds(fn, *args, repeat: int) -> float:
    """Median seconds of ``fn(*args)`` over ``repeat`` calls, after one warm-up."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def step_rate(architecture: str, batch_size: int, steps: int = 20) -> dict:
    """One model's steps/s and XLA's per-step cost estimate (GFLOP, MB touched)."""
    config = beta_vae.get_config("conv" if architecture == "conv" else None)
    config.batch_size = batch_size
    model, tx = architectures.from_config(config), train.make_optimizer(config)
    step = train.make_train_step(config, model, tx)
    state = train.create_train_state(config, model, tx)
    batch = jnp.asarray(np.random.default_rng(0).random((batch_size, 64, 64, 1)) > 0.5,
                        jnp.float32)
    cost = step.lower(state, batch).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    for _ in range(3):
        state, metrics = step(state, batch)
    jax.block_until_ready(state)
    start = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, batch)
    jax.block_until_ready((state, metrics))
    return dict(rate=steps / (time.perf_counter() - start),
                gflop=cost.get("flops", float("nan")) / 1e9,
                mbytes=cost.get("bytes accessed", float("nan")) / 1e6)


def _child_rate(architecture: str, batch_size: int, cores: set[int]) -> dict:
    """step_rate in a fresh process restricted to ``cores``."""
    code = ("import json, sys; sys.path.insert(0, %r); import replica_bounds as b; "
            "print(json.dumps(b.step_rate(%r, %d)))"
            % (os.path.dirname(os.path.abspath(__file__)), architecture, batch_size))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, preexec_fn=lambda: os.sched_setaffinity(0, cores))
    return json.loads(out.stdout.strip().splitlines()[-1])


def fc_products(batch_size: int) -> list[tuple[str, int, int, int]]:
    """(name, M, K, N) of each dense layer's three products in the FC beta-VAE."""
    widths = [4096, 1200, 1200, 20]  # encoder: 10 latents, mean and log-variance
    widths += [10, 1200, 1200, 1200, 4096]  # decoder
    layers = list(zip(widths[:3], widths[1:4])) + list(zip(widths[4:-1], widths[5:]))
    out = []
    for i, (k, n) in enumerate(layers):
        out.append((f"{k}->{n} forward", batch_size, k, n))
        if i:  # no gradient with respect to the images
            out.append((f"{k}->{n} input grad", batch_size, n, k))
        out.append((f"{k}->{n} weight grad", k, batch_size, n))
    return out


def product_rates(shape, replicas: int, repeat: int = 30) -> tuple[float, float]:
    """GFLOP/s of one (M, K) x (K, N) product and of ``replicas`` vmapped ones."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    rates = []
    for r in (1, replicas):
        a = jnp.asarray(rng.standard_normal((r, m, k)), jnp.float32)
        b = jnp.asarray(rng.standard_normal((r, k, n)), jnp.float32)
        fn = jax.jit(jnp.matmul) if r == 1 else jax.jit(jax.vmap(jnp.matmul))
        args = (a[0], b[0]) if r == 1 else (a, b)
        rates.append(2 * r * m * k * n / _seconds(fn, *args, repeat=repeat) / 1e9)
    return rates[0], rates[1]


def stream_rate(megabytes: float, repeat: int = 30) -> float:
    """GB/s read + written by ``x * a + b`` over a float32 array of ``megabytes``."""
    x = jnp.ones(int(megabytes * 2**20) // 4, jnp.float32)
    seconds = _seconds(jax.jit(lambda x: x * 1.0001 + 1.0), x, repeat=repeat)
    return 2 * x.nbytes / seconds / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    all_cores = os.sched_getaffinity(0)
    print(f"# {os.cpu_count()} CPU cores ({len(all_cores)} usable), jax {jax.__version__}, "
          f"batch {args.batch_size}, {args.replicas} replicas")

    print("\n## 1. One model's train step: one core against all\n")
    print("| model | steps/s, 1 core | steps/s, all cores | scaling | GFLOP/step | MB/step |")
    print("|---|---|---|---|---|---|")
    for architecture in ("fc", "conv"):
        one = _child_rate(architecture, args.batch_size, {min(all_cores)})
        every = _child_rate(architecture, args.batch_size, all_cores)
        print(f"| {architecture} | {one['rate']:.2f} | {every['rate']:.2f} | "
              f"{every['rate'] / one['rate']:.2f}x of {len(all_cores)} | "
              f"{every['gflop']:.2f} | {every['mbytes']:.0f} |", flush=True)

    print(f"\n## 2. FC products: one model against {args.replicas} vmapped\n")
    print(f"| product | M x K x N | GFLOP/s, 1 | GFLOP/s, {args.replicas} | ratio |")
    print("|---|---|---|---|---|")
    total = [0.0, 0.0]
    for name, m, k, n in fc_products(args.batch_size):
        one, many = product_rates((m, k, n), args.replicas)
        total[0] += 2 * m * k * n / one
        total[1] += 2 * m * k * n / many
        print(f"| {name} | {m} x {k} x {n} | {one:.0f} | {many:.0f} | {many / one:.2f}x |",
              flush=True)
    print(f"| all, time-weighted | | | | {total[0] / total[1]:.2f}x |")

    print("\n## 3. Memory: streaming x * a + b\n")
    print("| array | GB/s |")
    print("|---|---|")
    for mb in (4, 64, 256):
        print(f"| {mb} MB | {stream_rate(mb):.1f} |", flush=True)


if __name__ == "__main__":
    main()
