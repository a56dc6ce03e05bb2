"""Seconds to score each baseline row of the Higgins table (experiments/metric_table.py).

    python benchmarks/metric_table.py [--variant cpu] [--rows "raw pixels" PCA]

One replica and one classifier seed per row (the table runs ``replicas`` x
``classifier_seeds`` paper-protocol fits and ``replicas`` dlib ones, and the
FactorVAE, MIG and DCI scores once per replica), on the
cached simulated grid. Prints the seconds and the scores of each row: the
scores must not move when the code gets faster.
"""

import argparse
import time

from experiments import metric_table, metric_table_config
from vaejax import memory
from vaejax.data import GroundTruth, dsprites


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", default="cpu", help="metric_table_config.py variant")
    parser.add_argument("--rows", nargs="*", default=None, help="baseline rows (default: all)")
    args = parser.parse_args()
    memory.keep_freed_memory()
    cfg = metric_table_config.get_config(args.variant)
    cfg.replicas, cfg.classifier_seeds = 1, 1
    data = GroundTruth(dsprites.load(cfg.data_source))
    start = time.perf_counter()
    reps = metric_table.baseline_representations(cfg, data)
    print(f"{args.variant} sizes: {cfg.higgins_num_train} / {cfg.higgins_num_eval} points; "
          f"baselines fitted in {time.perf_counter() - start:.1f} s")
    total = 0.0
    for row in args.rows or list(reps):
        start = time.perf_counter()
        scores = metric_table.score_representations(
            cfg, data, reps[row], memoize=row not in metric_table.UNMEMOIZED,
            skip=metric_table.NOT_SCORED.get(row, ()))
        seconds = time.perf_counter() - start
        total += seconds
        print(f"  {row:22s} {seconds:7.1f} s  paper {scores['paper'][0][0]:.1f} %  "
              f"dlib {scores['dlib'][0]:.1f} %  "
              + "  ".join(f"{key} {scores[key][0]:.3f}" for key in metric_table.STRONG_METRICS
                          if key in scores), flush=True)
    print(f"  {'total':22s} {total:7.1f} s")


if __name__ == "__main__":
    main()
