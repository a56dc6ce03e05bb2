"""Ranks trained models of one setting without labels (UDR, Duan et al. 2020).

    python -m experiments.udr --workdirs runs/seed0,runs/seed1,runs/seed2 \
        [--images 1000] [--seed 0] [--output udr.json]

Every model of every workdir (each replica of a replicated run) encodes the
same images; prints each model's UDR (Lasso and Spearman) and the chosen
one, and writes the ranking as JSON (default ``./udr.json``). A run of
several replicas gets the same ranking from ``experiments.evaluate``, in
``eval/udr.json`` and its report.

Where every model has been evaluated (``eval/metrics.json``, or
``eval/replica_I/metrics.json``), it also compares the ranking with the
supervised metrics: per metric, the Spearman rank correlation with each UDR
variant across the models, and what picking the top-UDR model gains over
picking one at random (its score minus the models' mean).
"""

import json
from pathlib import Path

from absl import app, flags, logging

from experiments import cli
from vaejax import errors, memory, train
from vaejax.evaluation import evaluate, udr


def _define_flags():
    # Only when run as a program: importing this module defines no flag.
    flags.DEFINE_list("workdirs", None, "Workdirs of one setting (comma-separated).")
    flags.DEFINE_integer("images", evaluate.UDR_IMAGES, "Images every model encodes.")
    flags.DEFINE_integer("seed", 0, "Seed of the images drawn and of the Lasso.")
    flags.DEFINE_string("output", "udr.json", "Where to write the ranking.")
    flags.mark_flags_as_required(["workdirs"])


def main(argv):
    fl = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    memory.keep_freed_memory()
    models = []
    configs = cli.one_dataset_configs(fl.workdirs, "UDR compares models of one")
    for w, config in zip(fl.workdirs, configs):
        n = train.num_replicas(config)
        models += [(Path(w), None)] if n == 1 else [(Path(w), i) for i in range(n)]
    if len(models) < 2:
        raise errors.InputError("UDR needs at least 2 models: give several workdirs, or a "
                                "run of several replicas")
    if fl.images < 10:
        raise errors.InputError(f"--images must be at least 10, got {fl.images}")
    data = evaluate.dataset_for(configs[0], None, sizes="smoke", seed=fl.seed)
    ranking = evaluate.udr_ranking(models, data, seed=fl.seed, num_images=fl.images)
    compared = compare_with_supervised(models, ranking)
    if compared:
        ranking["supervised"] = compared
    Path(fl.output).write_text(json.dumps(ranking, indent=2))
    if "skipped" in ranking:
        print(f"UDR not computed: {ranking['skipped']}")
        return
    for i, name in enumerate(ranking["models"]):
        mark = "  <- chosen" if i == ranking["chosen"] else ""
        print(f"{name}: UDR lasso {ranking['scores']['lasso'][i]:.3f}, spearman "
              f"{ranking['scores']['spearman'][i]:.3f}, informative latents "
              f"{ranking['informative'][i]}{mark}")
    for name, entry in (compared or {}).items():
        print(f"{name}: Spearman with UDR lasso {entry['spearman_lasso']:+.2f}, spearman "
              f"{entry['spearman_spearman']:+.2f}; top-UDR pick {entry['chosen']:.3f} against "
              f"{entry['mean']:.3f} on average ({entry['gain']:+.3f})")
    print("wrote", fl.output)


def _metrics_path(workdir: Path, replica):
    eval_dir = workdir / "eval"
    return eval_dir / "metrics.json" if replica is None else (
        eval_dir / f"replica_{replica}" / "metrics.json")


def compare_with_supervised(models, ranking) -> dict | None:
    """:func:`vaejax.evaluation.udr.compare` on the models' ``metrics.json``; None
    unless every model has been evaluated."""
    if "skipped" in ranking:
        return None
    paths = [_metrics_path(w, r) for w, r in models]
    if not all(p.is_file() for p in paths):
        return None
    reports = [json.loads(p.read_text()).get("metrics", {}) for p in paths]
    return udr.compare(ranking["scores"], ranking["chosen"], reports)


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
