"""Input pipeline throughput: images/s of ShuffledBatches on the full simulated set.

    python benchmarks/pipeline.py [--batch-size 64] [--steps 3000]

Builds (or reuses) the cached simulated set, then times batches with and
without the prefetch thread. The first pass over a cold cache reads from
disk; the figures after warm-up are from the page cache.
"""

import argparse
import time

from vaejax import data


def _rate(batches, steps):
    next(batches)  # start-up (first permutation, thread start)
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    seconds = time.perf_counter() - start
    return steps * batches.batch_size / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    ds = data.load("simulated")
    for name, prefetch in (("prefetch=0 (main thread)", 0), ("prefetch=2 (thread)", 2)):
        batches = data.ShuffledBatches(ds.imgs, batch_size=args.batch_size, seed=0,
                                       prefetch=prefetch)
        rate = _rate(batches, args.steps)
        batches.close()
        print(f"batch {args.batch_size}, {name}: {rate:,.0f} images/s")


if __name__ == "__main__":
    main()
