"""Evaluates a training workdir: reconstructions, traversals, KL per latent, metrics.

    python -m experiments.evaluate --workdir runs/beta_vae [--replica I] [--sizes reduced] \
        [--seed 0] [--dci_trees lightgbm] [--output_dir DIR]

Writes into WORKDIR/eval/ (or --output_dir); for a run of several replicas,
each into WORKDIR/eval/replica_I/ (every replica unless --replica), plus
WORKDIR/eval/summary.json; then the report page, WORKDIR/report.html (or
DIR/report.html). ``--workdir pretrained:NAME`` evaluates a shipped
pretrained model (vaejax.pretrained), by default into ./NAME_eval/: a
shipped model's directory is never written.
"""

import json
from pathlib import Path

from absl import app, flags

from experiments import cli
from vaejax import pretrained
from vaejax.evaluation import evaluate, metrics, report


def _define_flags():
    # Only when run as a program: importing this module defines no flag.
    flags.DEFINE_string("workdir", None, "A workdir written by experiments.run, or "
                        "pretrained:NAME.")
    flags.DEFINE_string("output_dir", None, "Where to write (default: WORKDIR/eval, "
                        "and WORKDIR/report.html).")
    flags.DEFINE_integer("seed", 0, "Seed of the metrics' sampling.")
    flags.DEFINE_enum("sizes", "standard", sorted(evaluate.SIZES),
                      "Metric sizes: standard (disentanglement_lib), reduced, smoke.")
    flags.DEFINE_string("data_source", None,
                        "Where the run's dataset's files are (default: for dSprites and its "
                        "variants the cached simulated grid at standard sizes, the renderer "
                        "otherwise; for other datasets the run's config.data_source).")
    flags.DEFINE_enum("dci_trees", "sklearn", list(metrics.DCI_TREES),
                      "DCI's tree learner: sklearn (the reference) or lightgbm "
                      "(much faster, approximate; pip install lightgbm).")
    flags.DEFINE_integer("replica", None, "For a run of several replicas: evaluate this "
                         "one only (default: every replica, and a summary).")
    flags.mark_flags_as_required(["workdir"])


def main(argv):
    fl = flags.FLAGS
    cli.start(argv)
    workdir = pretrained.resolve(fl.workdir)
    out_dir = Path(fl.output_dir) if fl.output_dir else None
    if out_dir is None and pretrained.is_shipped(workdir):
        out_dir = Path.cwd() / f"{workdir.name}_eval"
        print(f"{workdir} is a shipped pretrained model: writing into {out_dir}")
    if out_dir is not None:
        pretrained.check_writable(out_dir)
    results = evaluate.evaluate(workdir, seed=fl.seed, sizes=fl.sizes,
                                data_source=fl.data_source, dci_trees=fl.dci_trees,
                                replica=fl.replica, out_dir=out_dir)
    print(json.dumps(dict(metrics=results["metrics"], seconds=results["seconds"],
                          active_latents=results["active_latents"]), indent=2))
    print("report:", report.write_report(workdir, out_dir))


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
