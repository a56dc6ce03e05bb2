"""Evaluates a training workdir: reconstructions, traversals, KL per latent, metrics.

    python -m experiments.evaluate --workdir runs/beta_vae [--replica I] [--sizes reduced] \
        [--seed 0] [--dci_trees lightgbm]

Writes into WORKDIR/eval/; for a run of several replicas, each into
WORKDIR/eval/replica_I/ (every replica unless --replica), plus
WORKDIR/eval/summary.json.
"""

import json

from absl import app, flags, logging

from experiments import cli
from vaejax import memory
from vaejax.evaluation import evaluate, metrics

_WORKDIR = flags.DEFINE_string("workdir", None, "A workdir written by experiments.run.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the metrics' sampling.")
_SIZES = flags.DEFINE_enum("sizes", "standard", sorted(evaluate.SIZES),
                           "Metric sizes: standard (disentanglement_lib), reduced, smoke.")
_DATA = flags.DEFINE_string("data_source", None,
                            "dSprites source for the ground truth (default: the cached simulated "
                            "grid at standard sizes, the renderer otherwise).")
_DCI_TREES = flags.DEFINE_enum("dci_trees", "sklearn", list(metrics.DCI_TREES),
                               "DCI's tree learner: sklearn (the reference) or lightgbm "
                               "(much faster, approximate; pip install lightgbm).")
_REPLICA = flags.DEFINE_integer("replica", None, "For a run of several replicas: evaluate this "
                                "one only (default: every replica, and a summary).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    memory.keep_freed_memory()  # before JAX's first computation (see its docstring)
    report = evaluate.evaluate(_WORKDIR.value, seed=_SEED.value, sizes=_SIZES.value,
                               data_source=_DATA.value, dci_trees=_DCI_TREES.value,
                               replica=_REPLICA.value)
    print(json.dumps(dict(metrics=report["metrics"], seconds=report["seconds"],
                          active_latents=report["active_latents"]), indent=2))


if __name__ == "__main__":
    app.run(cli.reports_errors(main))
