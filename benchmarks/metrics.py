"""Seconds per disentanglement metric, at disentanglement_lib's sizes.

    python benchmarks/metrics.py [--workdir RUN] [--sizes standard] [--dci-trees lightgbm]

With --workdir, scores that run's encoder (memoised over the grid, so each
image is encoded once across all six metrics); without, the ground-truth
factors (no encoding: the metrics' own cost).
"""

import argparse
import time

from vaejax import memory
from vaejax.data import GroundTruth, dsprites
from vaejax.evaluation import baselines, evaluate, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--sizes", default="standard", choices=sorted(evaluate.SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dci-trees", default="sklearn", choices=metrics.DCI_TREES)
    parser.add_argument("--malloc-default", action="store_true",
                        help="leave glibc's malloc as it is (no memory.keep_freed_memory)")
    args = parser.parse_args()
    kept = not args.malloc_default and memory.keep_freed_memory()
    data = GroundTruth(dsprites.load("simulated"))  # the cached grid
    if args.workdir:
        _, model, params, step = evaluate.load_model(args.workdir)
        representation = baselines.encoder_representation(model, params)
        what = f"encoder of {args.workdir} (step {step})"
    else:
        representation = baselines.GroundTruthFactors()
        what = "ground-truth factors"
    start = time.perf_counter()
    results, seconds = evaluate.run_metrics(representation, data, seed=args.seed,
                                            sizes=args.sizes, dci_trees=args.dci_trees)
    total = time.perf_counter() - start
    print(f"{what}, sizes={args.sizes}, DCI trees: {args.dci_trees}, "
          f"malloc: {'keep_freed_memory' if kept else 'default'}")
    for name, s in seconds.items():
        print(f"  {name:24s} {s:7.1f} s  {results[name]}")
    print(f"  {'total':24s} {total:7.1f} s")


if __name__ == "__main__":
    main()
