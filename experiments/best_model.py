"""Picks the most disentangled of several evaluated models and writes best_model.json.

    python -m experiments.best_model --eval_dir runs/a/eval --eval_dir runs/b/eval/replica_1 \
        [--out docs/results]

Each ``--eval_dir`` is what ``experiments.evaluate`` wrote at standard sizes
(its ``metrics.json`` and ``traversals.png``). The best is the one with the
highest MIG (ties: FactorVAE score); OUT/best_model.json gets its config,
replica and every metric, plus the median over all the candidates, and
OUT/best_model_traversals.png its traversals.
"""

import json
import shutil
from pathlib import Path

from absl import app, flags

from experiments import cli
from vaejax.errors import InputError



def _define_flags():
    # Only when run as a program: importing this module (tests) defines none.
    flags.DEFINE_multi_string("eval_dir", None, "An experiments.evaluate output directory "
                              "(repeat for each candidate).")
    flags.DEFINE_string("out", "docs/results", "Where best_model.json goes.")


def summary(results: dict) -> dict:
    """The metrics best_model.json reports, from one evaluation's metrics.json."""
    m = results["metrics"]
    return dict(factor_vae=m["factor_vae"]["eval_accuracy"], mig=m["mig"]["mig"],
                dci=dict(m["dci"]), higgins_paper=100.0 * m["higgins"]["eval_accuracy"],
                higgins_dlib=100.0 * m["higgins_dlib"]["eval_accuracy"], sap=m["sap"]["sap"],
                modularity=m["modularity_explicitness"]["modularity"])


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def select(eval_dirs) -> tuple[dict, Path]:
    """(best_model.json's content, the best candidate's eval dir)."""
    candidates = []
    for directory in map(Path, eval_dirs):
        path = directory / "metrics.json"
        if not path.is_file():
            raise InputError(f"{path} not found: run experiments.evaluate first")
        results = json.loads(path.read_text())
        if results.get("sizes") != "standard":
            raise InputError(f"{path} was evaluated at {results.get('sizes')!r} sizes; "
                             "best_model.json needs the standard ones (--sizes standard)")
        candidates.append((summary(results), results, directory))
    if not candidates:
        raise InputError("no --eval_dir given")
    best, results, directory = max(candidates,
                                   key=lambda c: (c[0]["mig"], c[0]["factor_vae"]))
    content = dict(config=results["config"], workdir=results["workdir"],
                   replica=results["replica"], eval_seed=results["seed"], step=results["step"],
                   metrics=best,
                   median={k: _median([c[0][k] for c in candidates])
                           for k in ("factor_vae", "mig", "higgins_paper", "higgins_dlib")},
                   candidates=[dict(workdir=c[1]["workdir"], replica=c[1]["replica"],
                                    factor_vae=c[0]["factor_vae"], mig=c[0]["mig"])
                               for c in candidates])
    return content, directory


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    content, directory = select(flags.FLAGS.eval_dir or [])
    out = Path(flags.FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "best_model.json").write_text(json.dumps(content, indent=2) + "\n")
    shutil.copyfile(directory / "traversals.png", out / "best_model_traversals.png")
    print(json.dumps(content["metrics"], indent=2))


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
