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

    python -m experiments.udr --settings runs/a0,runs/a1,runs/a2 \
        --settings runs/b0,runs/b1,runs/b2 [--output udr.json]

ranks the seeds of each setting among themselves (the paper's UDR, as
against all-to-all) and judges the scores over every setting's models
pooled (:func:`vaejax.evaluation.udr.compare_settings`); the JSON holds
``settings`` (one ranking each) and ``comparison``.
"""

import json
from pathlib import Path

from absl import app, flags

from experiments import cli
from vaejax import errors, train
from vaejax.evaluation import evaluate, udr


def _define_flags():
    # Only when run as a program: importing this module defines no flag.
    flags.DEFINE_list("workdirs", None, "Workdirs of one setting (comma-separated).")
    flags.DEFINE_multi_string("settings", None, "Instead of --workdirs, once per setting: its "
                              "workdirs, comma-separated. Each setting's seeds are ranked "
                              "among themselves; the comparison with the supervised "
                              "metrics pools every setting's models.")
    flags.DEFINE_integer("images", evaluate.UDR_IMAGES, "Images every model encodes.")
    flags.DEFINE_integer("seed", 0, "Seed of the images drawn and of the Lasso.")
    flags.DEFINE_string("output", "udr.json", "Where to write the ranking.")
    flags.mark_flags_as_mutual_exclusive(["workdirs", "settings"], required=True)


def main(argv):
    fl = flags.FLAGS
    cli.start(argv)
    groups = [fl.workdirs] if fl.workdirs else [s.split(",") for s in fl.settings]
    workdirs = [w for g in groups for w in g]
    configs = dict(zip(workdirs, cli.one_dataset_configs(workdirs, "UDR compares models of one")))
    settings = []
    for group in groups:
        models = []
        for w in group:
            n = train.num_replicas(configs[w])
            models += [(Path(w), None)] if n == 1 else [(Path(w), i) for i in range(n)]
        if len(models) < 2:
            raise errors.InputError("UDR needs at least 2 models of a setting: give several "
                                    "workdirs, or a run of several replicas (got "
                                    f"{','.join(group)})")
        settings.append(models)
    if fl.images < 10:
        raise errors.InputError(f"--images must be at least 10, got {fl.images}")
    data = evaluate.dataset_for(configs[workdirs[0]], None, sizes="smoke", seed=fl.seed)
    rankings, reports = [], []
    for models in settings:
        ranking = evaluate.udr_ranking(models, data, seed=fl.seed, num_images=fl.images)
        reports.append(None if "skipped" in ranking else _reports(models))
        compared = reports[-1] and udr.compare(ranking["scores"], ranking["chosen"],
                                               reports[-1])
        if compared:
            ranking["supervised"] = compared
        rankings.append(ranking)
    if len(rankings) == 1:
        result = rankings[0]
    else:
        result = dict(settings=rankings)
        if all(r is not None for r in reports):
            result["comparison"] = udr.compare_settings(
                [(r["scores"], rs) for r, rs in zip(rankings, reports)])
    Path(fl.output).write_text(json.dumps(result, indent=2))
    for ranking in rankings:
        _print_ranking(ranking)
    comparison = result.get("comparison")
    if comparison:
        print("Over every setting's models (UDR within each setting):")
        for name, entry in comparison["pooled"].items():
            print(f"{name}: Spearman with UDR lasso {entry['spearman_lasso']:+.2f}, spearman "
                  f"{entry['spearman_spearman']:+.2f}; top-UDR model {entry['chosen']:.3f} "
                  f"against {entry['mean']:.3f} on average; keeping each setting's top-UDR "
                  f"seed gains {comparison['within'][name]['mean_gain']:+.3f} on average")
    print("wrote", fl.output)


def _print_ranking(ranking: dict) -> None:
    if "skipped" in ranking:
        print(f"UDR not computed: {ranking['skipped']}")
        return
    for i, name in enumerate(ranking["models"]):
        mark = "  <- chosen" if i == ranking["chosen"] else ""
        print(f"{name}: UDR lasso {ranking['scores']['lasso'][i]:.3f}, spearman "
              f"{ranking['scores']['spearman'][i]:.3f}, informative latents "
              f"{ranking['informative'][i]}{mark}")
    for name, entry in ranking.get("supervised", {}).items():
        print(f"{name}: Spearman with UDR lasso {entry['spearman_lasso']:+.2f}, spearman "
              f"{entry['spearman_spearman']:+.2f}; top-UDR pick {entry['chosen']:.3f} against "
              f"{entry['mean']:.3f} on average ({entry['gain']:+.3f})")


def _metrics_path(workdir: Path, replica):
    eval_dir = workdir / "eval"
    return eval_dir / "metrics.json" if replica is None else (
        eval_dir / f"replica_{replica}" / "metrics.json")


def _reports(models) -> list[dict] | None:
    """Each model's evaluated metrics; None unless every model has been evaluated."""
    paths = [_metrics_path(w, r) for w, r in models]
    if not all(p.is_file() for p in paths):
        return None
    return [json.loads(p.read_text()).get("metrics", {}) for p in paths]


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
