"""Which readings of the 2017 Higgins protocol move the table's rows, and how far.

    python -m experiments.protocol_study --table_workdir runs/table [--out runs/study] \
        [--num_train 5000] [--num_eval 2000] [--steps 100,1000,0] [--train_sizes 500,2000,5000]

Reads the replicated VAE and beta-VAE runs that ``experiments.metric_table``
trained in ``--table_workdir`` (``vae/``, ``beta_vae/``, with the table's
config in ``table.json``), builds the paper protocol's features once per row
and replica (classes scale, orientation, posX, posY; L = 64 pairs; the
baselines as the table builds them) and scores each under every reading:

* the classifier: the paper's Adagrad 1e-2 softmax for a fixed number of
  steps (``--steps``, batches of 256; 0 = to convergence by
  :func:`vaejax.evaluation.metrics.fit_softmax_classifier`'s rule), and
  scikit-learn's logistic regression (L2, C = 1) to convergence;
* the number of training points (``--train_sizes``, the first N of the
  ``--num_train`` built);
* features unscaled or standardised (from the training points).

Writes ``study.json`` (every replica's accuracy per reading) and
``study.md`` (mean over replicas, one column per row) into ``--out``.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
from absl import app, flags
from sklearn import linear_model, preprocessing

from experiments import cli
from experiments import metric_table
from vaejax.data import GroundTruth, dsprites
from vaejax.errors import InputError
from vaejax.evaluation import codes, metrics


def _define_flags():
    # Only when run as a program: importing this module defines no flag.
    flags.DEFINE_string("table_workdir", None, "A workdir of experiments.metric_table.")
    flags.DEFINE_string("out", None, "Output directory (default TABLE_WORKDIR/study).")
    flags.DEFINE_integer("num_train", 5_000, "Training points built per replica.")
    flags.DEFINE_integer("num_eval", 2_000, "Held-out points per replica.")
    flags.DEFINE_list("steps", ["100", "1000", "0"],
                      "Adagrad steps of the softmax classifier (0: to convergence).")
    flags.DEFINE_list("train_sizes", ["500", "2000", "5000"], "Training points used.")
    flags.DEFINE_integer("seed", 0, "Seed of the metric's sampling and the classifier.")
    flags.mark_flags_as_required(["table_workdir"])


def representations(cfg, data, root: Path) -> dict:
    """Row -> one representation per replica, as metric_table scores them."""
    reps = metric_table.baseline_representations(cfg, data)
    for row in metric_table.trained_rows(cfg):
        workdir = metric_table.row_workdir(root, row)
        if not (workdir / "checkpoints").is_dir():
            raise InputError(f"no trained {row} in {workdir}: run experiments.metric_table first")
        reps[row] = metric_table.model_representations(workdir, cfg.replicas)
    return reps


def _features(rep, data, num: int, rng, classes, chunk: int = 500):
    """higgins_features in chunks of points (raw pixels: 64 x 2 x 4,096 floats per point)."""
    parts = [metrics.higgins_features(rep, data, min(chunk, num - start), rng, factors=classes)
             for start in range(0, num, chunk)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def readings(steps, sizes):
    """Every (classifier, training points, scaling) reading, named."""
    classifiers = [f"adagrad_{s}" if s else "adagrad_converged" for s in steps] + ["sklearn"]
    return list(itertools.product(classifiers, sizes, ("unscaled", "standardised")))


def score(features, reading, seed: int) -> float:
    """Held-out accuracy (%) of one reading on ``(x_train, y_train, x_eval, y_eval)``."""
    x_train, y_train, x_eval, y_eval = features
    classifier, size, scaling = reading
    x_train, y_train = x_train[:size], y_train[:size]
    if scaling == "standardised":
        scaler = preprocessing.StandardScaler().fit(x_train)
        x_train, x_eval = scaler.transform(x_train), scaler.transform(x_eval)
    if classifier == "sklearn":
        fitted = linear_model.LogisticRegression(max_iter=2_000).fit(x_train, y_train)
        return 100.0 * fitted.score(x_eval, y_eval)
    steps = int(classifier.rpartition("_")[2]) if classifier != "adagrad_converged" else 0
    kwargs = dict(max_steps=steps, check_every=min(steps, 500), tolerance=-np.inf) if steps else {}
    weights, bias, _ = metrics.fit_softmax_classifier(x_train, y_train, 4, seed=seed, **kwargs)
    return 100.0 * float(np.mean(metrics.softmax_predict(weights, bias, x_eval) == y_eval))


def format_study(results: dict, rows) -> str:
    lines = ["| classifier | training points | features | " + " | ".join(rows) + " |",
             "|---|---|---|" + "---|" * len(rows)]
    for key, per_row in results.items():
        classifier, size, scaling = key.split("/")
        cells = [f"{np.mean(per_row[r]):.1f}" for r in rows]
        lines.append(f"| {classifier} | {size} | {scaling} | " + " | ".join(cells) + " |")
    lines.append("| Higgins et al. 2017 | | | " + " | ".join(metric_table.PAPER[r] for r in rows)
                 + " |")
    return "\n".join(lines)


def main(argv):
    fl = flags.FLAGS
    cli.start(argv)
    root = Path(fl.table_workdir)
    if not (root / "table.json").is_file():
        raise InputError(f"no table.json in {root}: run experiments.metric_table there first")
    import ml_collections  # pylint: disable=import-outside-toplevel
    cfg = ml_collections.ConfigDict(json.loads((root / "table.json").read_text())["config"])
    out = Path(fl.out or root / "study")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = GroundTruth(dsprites.load(cfg.data_source) if cfg.data_source else None)
    classes = [data.factor_names.index(n) for n in metrics.HIGGINS_CLASSES["paper"]]
    sizes = [min(int(s), fl.num_train) for s in fl.train_sizes]
    all_readings = readings([int(s) for s in fl.steps], sizes)
    results = {"/".join(map(str, r)): {} for r in all_readings}
    reps = representations(cfg, data, root)
    for row, row_reps in reps.items():
        for i, rep in enumerate(row_reps):
            if row not in metric_table.UNMEMOIZED:
                rep = codes.MemoizedRepresentation(rep, data, progress=True)
            rng = np.random.default_rng(fl.seed + 1000 * i)
            features = (*_features(rep, data, fl.num_train, rng, classes),
                        *_features(rep, data, fl.num_eval, rng, classes))
            for reading in all_readings:
                acc = score(features, reading, fl.seed + i)
                results["/".join(map(str, reading))].setdefault(row, []).append(acc)
            print(f"{row} replica {i}: done ({time.perf_counter() - start:.0f} s)", flush=True)
            (out / "study.json").write_text(json.dumps(
                dict(results=results, table_config=cfg.to_dict(), num_train=fl.num_train,
                     num_eval=fl.num_eval, seed=fl.seed,
                     seconds=time.perf_counter() - start), indent=2))
    markdown = format_study(results, list(reps))
    (out / "study.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
