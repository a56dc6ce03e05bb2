"""Input pipeline throughput: batches/s of ShuffledBatches on the full simulated set,
for dSprites and its colour variants, measured in one run.

    python benchmarks/pipeline.py [--batch-size 64] [--steps 3000]
        [--datasets dsprites,color_dsprites,noisy_dsprites,scream_dsprites]

Builds (or reuses) the cached simulated set, then times each dataset's uint8
batches (what training copies to the devices) with and without the prefetch
thread; the variants draw their colours, noise or background patches per
batch. Prints each rate and its ratio to dSprites'. The first pass over a
cold cache reads from disk; the figures after warm-up are from the page
cache.
"""

import argparse
import time

import numpy as np

from vaejax import data
from vaejax.data import datasets


def _rate(batches, steps):
    next(batches)  # start-up (first permutation, thread start)
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    return steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--datasets", default="dsprites,color_dsprites,noisy_dsprites,"
                        "scream_dsprites")
    args = parser.parse_args()
    grid = data.load("simulated")
    names = args.datasets.split(",")
    for prefetch in (0, 2):
        base = None
        for name in names:
            ds = datasets.CLASSES[name](grid)
            batches = data.ShuffledBatches(ds, batch_size=args.batch_size, seed=0,
                                           prefetch=prefetch, dtype=np.uint8)
            rate = _rate(batches, args.steps)
            batches.close()
            base = rate if base is None else base
            print(f"{name:16s} batch {args.batch_size}, prefetch={prefetch}: "
                  f"{rate:,.0f} batches/s ({rate * args.batch_size:,.0f} images/s), "
                  f"{rate / base:.2f}x {names[0]}")


if __name__ == "__main__":
    main()
