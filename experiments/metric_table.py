"""Reproduces the disentanglement-metric table of Higgins et al. (2017) on dSprites.

    python -m experiments.metric_table --config experiments/metric_table_config.py:cpu \
        --workdir runs/metric_table

Trains (or resumes) the VAE and the beta-VAE, each as ``replicas`` models in
one run (WORKDIR/vae, WORKDIR/beta_vae), or with the config's
``separate_replicas`` as that many one-model runs, one after another
(WORKDIR/vae/seed<i>: replica ``i``'s run, ``vaejax.train.replica_config``),
and scores every row under both protocols of
:func:`vaejax.evaluation.metrics.higgins_metric`:

* ``paper``: each replica scored with ``classifier_seeds`` seeds, the bottom
  half of the replicas x seeds scores dropped, mean ± std of the rest
  (:func:`~vaejax.evaluation.metrics.paper_score`);
* ``dlib``: one score per replica, mean ± std over replicas;

and, per replica, with the metrics that tell a disentangled code from an
entangled one where the Higgins metric cannot: the FactorVAE score, MIG and
DCI disentanglement (at the config's ``metric_sizes``; mean ± std over
replicas; no DCI for raw pixels, 4,096 features).

With the config's ``all`` variant it also trains disentanglement_lib's
other five models (beta-TCVAE, FactorVAE, AnnealedVAE, DIP-VAE-I and -II)
and adds their rows after the paper's, with no 2017 figure beside them.

Baselines get replicas too: PCA and ICA fitted on other images and seeds,
the untrained encoder initialised from other seeds, the ground truth and raw
pixels (nothing to fit) scored on other metric samples. Writes
``table.md``, ``table.json`` and ``table.png``; each row's scores are kept
in ``scores.json`` as it finishes, so the same command run again after a
stop goes on from the first row not scored.
"""

import importlib.util
import json
import time
from pathlib import Path

from absl import app, flags
import jax
import numpy as np
from ml_collections import config_flags

from experiments import base, cli
from vaejax import architectures, models, objectives, train
from vaejax.errors import ConfigError
from vaejax import workdir as workdir_lib
from vaejax.data import datasets
from vaejax.evaluation import baselines, codes, evaluate, metrics, references


def _define_flags():
    # Only when run as a program: importing this module (tests, protocol_study) defines none.
    config_flags.DEFINE_config_file("config", None, "metric_table_config.py[:variant]",
                                    lock_config=True)
    flags.DEFINE_string("workdir", "runs/metric_table", "Output directory.")
    flags.DEFINE_string("scores_from", None,
                        "table.json (or scores.json) of an earlier table: its rows scored under "
                        "the same settings are taken as they are, not trained or scored again.")
    flags.mark_flags_as_required(["config"])


PAPER = references.HIGGINS_2017  # Higgins et al. 2017, Table 1 (accuracy %)
# disentanglement_lib's other models (Locatello et al. 2019), after the paper's rows
# when the table config trains them; the 2017 table has no figure for them.
EXTRA_ROWS = ("beta-TCVAE", "FactorVAE", "AnnealedVAE", "DIP-VAE-I", "DIP-VAE-II")
NO_REFERENCE = "—"
ROWS = tuple(PAPER)
PROTOCOLS = ("paper", "dlib")


def model_config(name, variant, seed, num_steps, replicas=1, dataset="dsprites",
                 data_source=""):
    """A row's training config; on a dataset other than the dSprites family it reads
    ``data_source`` (the table's)."""
    config = base.load(f"{name}:{variant}")
    config.seed = config.data_seed = seed
    config.replicas = replicas
    config.dataset = dataset
    if dataset not in datasets.DSPRITES_FAMILY:
        config.data_source = data_source
    elif "image:" in (data_source or ""):  # scream_dsprites: the table's picture, own dSprites
        image = datasets.split_dsprites_source(data_source)[1]
        config.data_source = f"{config.data_source}+image:{image}"
    if num_steps:
        config.num_steps = num_steps
        # Keep beta's ramp within the first quarter of a shortened run.
        config.beta_warmup_steps = min(config.beta_warmup_steps, num_steps // 4)
        if "capacity_steps" in config:  # AnnealedVAE: C at its maximum by 3/4 of the run
            config.capacity_steps = min(config.capacity_steps, 3 * num_steps // 4)
            config.gamma_warmup_steps = min(config.gamma_warmup_steps, num_steps // 4)
    return config


# The metrics scored beside the Higgins metric: key in scores -> (metric, its result's key)
STRONG_METRICS = {"factor_vae": (metrics.factor_vae_metric, "eval_accuracy"),
                  "mig": (metrics.mig, "mig"), "dci": (metrics.dci, "disentanglement")}
STRONG_LABELS = {"factor_vae": "FactorVAE", "mig": "MIG", "dci": "DCI disentanglement"}
# Rows a metric does not apply to: DCI's trees on raw pixels' 4,096 features
NOT_SCORED = {"raw pixels": ("dci",)}


def score_representations(cfg, data, representations, *, memoize=True, progress=False,
                          skip=()) -> dict:
    """Scores of one row's replicas: Higgins accuracies (%) under both
    protocols and the FactorVAE score, MIG and DCI disentanglement (0-1).

    representations: one per replica. Returns ``paper`` (replicas x
    classifier seeds) and ``dlib`` (replicas) score lists, and ``factor_vae``,
    ``mig``, ``dci`` (replicas) but those named in ``skip``.
    """
    paper, dlib = [], []
    strong = {key: [] for key in STRONG_METRICS if key not in skip}
    sizes = evaluate.SIZES[cfg.metric_sizes]
    for i, rep in enumerate(representations):
        if memoize:  # each grid image encoded at most once (raw pixels: 4,096-d, not memoised)
            rep = codes.MemoizedRepresentation(rep, data, progress=progress)
        kwargs = dict(num_train=cfg.higgins_num_train, num_eval=cfg.higgins_num_eval,
                      standardize=cfg.higgins_standardize)
        seeds = [cfg.seed + 1000 * i + j for j in range(cfg.classifier_seeds)]
        paper.append([100.0 * metrics.higgins_metric(rep, data, seed=s, protocol="paper",
                                                     **kwargs)["eval_accuracy"] for s in seeds])
        dlib.append(100.0 * metrics.higgins_metric(rep, data, seed=seeds[0], protocol="dlib",
                                                   **kwargs)["eval_accuracy"])
        for key, values in strong.items():
            fn, result = STRONG_METRICS[key]
            extra = dict(trees=cfg.dci_trees) if key == "dci" else {}
            values.append(float(fn(rep, data, seed=seeds[0], **sizes.get(fn.__name__, {}),
                                   **extra)[result]))
    return dict(paper=paper, dlib=dlib, **strong)


# Rows scored without MemoizedRepresentation: nothing to encode (the factors
# themselves), or codes too wide to cache (raw pixels, 4,096-d).
UNMEMOIZED = ("ground truth factors", "raw pixels")
BASELINE_ROWS = ("ground truth factors", "raw pixels", "PCA", "ICA", "VAE untrained")
MODEL_ROWS = ("VAE", "beta-VAE", "DC-IGN", "InfoGAN") + EXTRA_ROWS
# The table config's fields that name each model row's training config and
# variant (``<prefix>_config``, ``<prefix>_variant``); the row trains in WORKDIR/<prefix>.
_ROW_FIELDS = {"VAE": "vae", "beta-VAE": "beta_vae", "DC-IGN": "dc_ign", "InfoGAN": "infogan",
               "beta-TCVAE": "beta_tcvae", "FactorVAE": "factor_vae",
               "AnnealedVAE": "annealed_vae", "DIP-VAE-I": "dip_vae_i",
               "DIP-VAE-II": "dip_vae_ii"}


def _row_fields(row: str) -> tuple[str, str]:
    """The table config's (config, variant) field names for model ``row``."""
    prefix = _ROW_FIELDS[row]
    return f"{prefix}_config", f"{prefix}_variant"


def row_training_config(cfg, row: str):
    """(module of experiments/, variant) that trains ``row``; ("", "") when the table
    config leaves the row out (configs written before it existed)."""
    return tuple(cfg.get(field, "") for field in _row_fields(row))


def trained_rows(cfg) -> tuple[str, ...]:
    """The model rows the table config trains."""
    return tuple(row for row in MODEL_ROWS if row_training_config(cfg, row)[0])


def baseline_representations(cfg, data) -> dict:
    """Row -> one representation per replica for the rows without training: the
    ground truth and raw pixels (the same each time), PCA and ICA fitted and the
    untrained encoder initialised from seeds ``cfg.seed + i``."""
    seeds = [cfg.seed + i for i in range(cfg.replicas)]
    untrained = architectures.from_config(model_config(
        cfg.vae_config, cfg.vae_variant, cfg.seed, cfg.num_steps, **_data_fields(cfg)))
    return {
        "ground truth factors": [baselines.GroundTruthFactors(data=data)] * len(seeds),
        "raw pixels": [baselines.raw_pixels] * len(seeds),
        "PCA": [baselines.pca(data, num_fit=cfg.baseline_fit_images, seed=s) for s in seeds],
        "ICA": [baselines.ica(data, num_fit=cfg.baseline_fit_images, seed=s) for s in seeds],
        "VAE untrained": [baselines.encoder_representation(
            untrained, models.init_params(untrained, jax.random.split(jax.random.key(s))[0]))
            for s in seeds],
    }


def table_dataset(cfg) -> str:
    """The table's dataset (``dsprites`` for table configs written before the field)."""
    return cfg.get("dataset", "dsprites")


def _data_fields(cfg) -> dict:
    return dict(dataset=table_dataset(cfg), data_source=cfg.data_source)


def row_workdir(root: Path, row: str) -> Path:
    """Where a model row trains: ``root/vae``, ``root/beta_vae``, ``root/dc_ign``,
    ``root/infogan``, ``root/beta_tcvae``, ... (its config fields' prefix)."""
    return root / _ROW_FIELDS[row]


def replica_workdir(row_dir: Path, replica: int) -> Path:
    """Where replica ``replica`` of a row trains with ``separate_replicas``."""
    return row_dir / f"seed{replica}"


def separate_replicas(cfg) -> bool:
    """Whether the table trains each replica as a run of its own (False for
    table configs written before the field)."""
    return bool(cfg.get("separate_replicas", False))


def table_rows(names) -> tuple[str, ...]:
    """The paper's nine rows, then the extra rows among ``names``, in table order."""
    return ROWS + tuple(row for row in EXTRA_ROWS if row in names)


def model_representations(workdir: Path, replicas: int) -> list:
    """What evaluation scores of each replica of a trained row (the encoder mean for the
    VAE family: the objective's representation)."""
    reps = []
    for i in range(replicas):
        config, model, params, _ = evaluate.load_model(workdir,
                                                       replica=i if replicas > 1 else None)
        reps.append(objectives.get(config.objective).representation(model, params))
    return reps


SCORES_FILE = "scores.json"


def saved_scores(root: Path, cfg) -> dict:
    """Row -> scores that an earlier run of the same table config wrote to
    ``root/scores.json`` ({} when there is none, or its config differs)."""
    try:
        saved = json.loads((root / SCORES_FILE).read_text())
    except (OSError, ValueError):
        return {}
    same = _with_defaults(saved.get("config")) == json.loads(json.dumps(cfg.to_dict(),
                                                                         default=list))
    return dict(saved.get("rows", {})) if same else {}


# How the rows' replicas are trained, not what: replica i is the same model either
# way, so a row scored under one layout is taken under the other.
LAYOUT_FIELDS = frozenset({"separate_replicas"})


def _with_defaults(saved_cfg):
    """A table config read from a file, with the fields added since it was written."""
    if not isinstance(saved_cfg, dict):
        return saved_cfg
    return {"dataset": "dsprites", "separate_replicas": False, **saved_cfg}


def _save_scores(root: Path, cfg, scores: dict) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / (SCORES_FILE + ".tmp")
    tmp.write_text(json.dumps(dict(config=cfg.to_dict(), rows=scores), indent=1, default=list))
    tmp.replace(root / SCORES_FILE)


def _row_keys(row: str) -> tuple[str, str]:
    """The fields a row's scores depend on besides the shared settings (a baseline
    row: the VAE's, whose untrained encoder is one of them)."""
    return _row_fields("VAE" if row in BASELINE_ROWS else row)


def scores_from(path, cfg) -> dict:
    """Row -> scores of an earlier table (its ``table.json`` or ``scores.json``) for
    the rows ``cfg`` scores the same way: every setting but the other rows' training
    configs equal, and the row's own. Each carries ``from`` (``path``, or the file
    an earlier run took it from) and ``commit`` (the commit that scored it).

    Raises:
      ConfigError (a ValueError): the file is not a table's, or a shared setting
        differs (named).
    """
    try:
        earlier = json.loads(Path(path).read_text())
        old_cfg, rows = (_with_defaults(earlier["config"]),
                         earlier.get("scores", earlier.get("rows")))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"--scores_from {path}: not a metric table's table.json or "
                         f"scores.json ({type(err).__name__}: {err})") from None
    new_cfg = json.loads(json.dumps(cfg.to_dict(), default=list))
    row_keys = {key for row in _ROW_FIELDS for key in _row_keys(row)}
    for key in sorted(set(old_cfg) | set(new_cfg)):
        if key not in row_keys | LAYOUT_FIELDS and old_cfg.get(key) != new_cfg.get(key):
            raise ConfigError(f"--scores_from {path}: scored with {key}={old_cfg.get(key)!r}, "
                             f"this table has {key}={new_cfg.get(key)!r}")
    wanted = set(BASELINE_ROWS) | set(trained_rows(cfg))
    return {row: dict(s, **{"from": s.get("from", str(path)),
                            "commit": s.get("commit", earlier.get("commit"))})
            for row, s in (rows or {}).items()
            if row in wanted and all(old_cfg.get(k) == new_cfg.get(k) for k in _row_keys(row))}


def score_rows(cfg, root: Path, progress: bool = True, reuse: dict | None = None) -> dict:
    """Row -> its replicas' scores under both protocols (see :func:`score_representations`),
    and the commit that scored it.

    Each row's scores are saved to ``root/scores.json`` as soon as they are
    known, so a run stopped part-way and started again with the same config
    scores and trains only the rows it had not finished (training itself
    resumes from the rows' checkpoints). Delete the file to score every row
    again. ``reuse`` (see :func:`scores_from`): rows taken as they are.
    """
    check_metric_settings(cfg)
    data = datasets.ground_truth(table_dataset(cfg), cfg.data_source or None,
                                 progress=progress)
    missing = data.missing_message()
    if missing:
        raise ConfigError(f"the metric table needs the whole factor grid: {missing}")
    scores = saved_scores(root, cfg)
    if scores:
        print(f"{root / SCORES_FILE}: {len(scores)} rows scored before, not scored again: "
              f"{', '.join(scores)}")
    taken = {row: s for row, s in (reuse or {}).items() if row not in scores}
    if taken:
        for source in dict.fromkeys(s["from"] for s in taken.values()):
            print(f"taken from {source}: "
                  f"{', '.join(row for row, s in taken.items() if s['from'] == source)}")
        scores.update(taken)
        _save_scores(root, cfg, scores)

    def score(row, reps):
        scores[row] = dict(score_representations(cfg, data, reps, memoize=row not in UNMEMOIZED,
                                                 progress=progress,
                                                 skip=NOT_SCORED.get(row, ())),
                           commit=cli.commit())
        _save_scores(root, cfg, scores)

    if any(row not in scores for row in BASELINE_ROWS):
        for row, reps in baseline_representations(cfg, data).items():
            if row not in scores:
                score(row, reps)
    for row in trained_rows(cfg):
        if row in scores:
            continue
        name, variant = row_training_config(cfg, row)
        config = model_config(name, variant, cfg.seed, cfg.num_steps, replicas=cfg.replicas,
                              **_data_fields(cfg))
        workdir = row_workdir(root, row)
        if separate_replicas(cfg):
            reps = []
            for i in range(cfg.replicas):
                train.train_and_evaluate(train.replica_config(config, i),
                                         replica_workdir(workdir, i), progress=progress)
                reps += model_representations(replica_workdir(workdir, i), 1)
        else:
            train.train_and_evaluate(config, workdir, progress=progress)
            reps = model_representations(workdir, cfg.replicas)
        score(row, reps)
    return scores


def _mean_std(values) -> dict:
    values = np.asarray(values, np.float64)
    return dict(mean=float(values.mean()), std=float(values.std()), n=int(values.size))


def check_metric_settings(cfg) -> None:
    """ConfigError for metric sizes or DCI trees this table cannot use, before
    any training."""
    if cfg.metric_sizes not in evaluate.SIZES:
        raise ConfigError(f"metric_sizes must be one of {sorted(evaluate.SIZES)}, "
                          f"got {cfg.metric_sizes!r}")
    if cfg.dci_trees not in metrics.DCI_TREES:
        raise ConfigError(f"dci_trees must be one of {metrics.DCI_TREES}, got {cfg.dci_trees!r}")
    if cfg.dci_trees == "lightgbm" and importlib.util.find_spec("lightgbm") is None:
        raise ConfigError("dci_trees=lightgbm needs LightGBM: pip install 'vaejax[fast-metrics]' "
                          "(or --config.dci_trees=sklearn)")


def summarize(scores: dict, dataset: str = "dsprites") -> dict:
    """Per row, ``paper`` (the paper's rule over replicas x seeds), ``dlib``,
    ``factor_vae``, ``mig`` and ``dci`` (mean ± std over replicas) summaries, and
    the paper's figure (dSprites only); None for missing rows and metrics."""
    rows = {}
    for name in table_rows(scores):
        reference = PAPER.get(name, NO_REFERENCE) if dataset == "dsprites" else NO_REFERENCE
        row = scores.get(name)
        rows[name] = dict(
            paper=metrics.paper_score(row["paper"]) if row else None,
            dlib=_mean_std(row["dlib"]) if row else None,
            **{key: _mean_std(row[key]) if row and row.get(key) else None
               for key in STRONG_METRICS},
            reference=reference)
    return rows


def _cell(summary, digits=2, missing="not run"):
    return missing if summary is None else (
        f"{summary['mean']:.{digits}f} ± {summary['std']:.{digits}f}")


def format_table(rows: dict, cfg) -> str:
    """Markdown: both protocols, FactorVAE, MIG and DCI beside the paper's column."""
    lines = ["| representation | paper protocol (%) | disentanglement_lib protocol (%) | "
             + " | ".join(STRONG_LABELS.values()) + " | Higgins et al. 2017 (%) |",
             "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        ran = r["paper"] is not None
        strong = [_cell(r[key], 3, "—" if ran else "not run") for key in STRONG_METRICS]
        lines.append(f"| {name} | {_cell(r['paper'])} | {_cell(r['dlib'])} | "
                     f"{' | '.join(strong)} | {r['reference']} |")
    scaling = "features standardised" if cfg.higgins_standardize else "unscaled features"
    dataset = table_dataset(cfg)
    if dataset != "dsprites":
        lines[0] = lines[0].replace("Higgins et al. 2017 (%)", "Higgins et al. 2017 (%, dSprites)")
        every = ("" if dataset in datasets.DSPRITES_FAMILY else
                 " Both protocols classify every scored factor.")
        lines.insert(0, f"Dataset: {dataset} ({cfg.data_source or 'renderer'}); the 2017 "
                        f"column is dSprites' only.{every}\n")
    lines += ["", f"Higgins metric: {cfg.higgins_num_train} training / {cfg.higgins_num_eval} "
              f"evaluation points, L = 64 pairs, {scaling}; {cfg.replicas} replicas per row "
              f"(seeds from {cfg.seed}). Paper protocol: classes scale, orientation, posX, posY; "
              f"softmax classifier, Adagrad 1e-2; {cfg.replicas} replicas x "
              f"{cfg.classifier_seeds} classifier seeds, bottom half dropped, mean ± std of the "
              "rest. disentanglement_lib protocol: classes shape, scale, orientation, posX, posY; "
              "logistic regression; mean ± std over replicas. FactorVAE (majority-vote accuracy, "
              "0-1), MIG and DCI disentanglement: disentanglement_lib's definitions at "
              f"{cfg.metric_sizes} sizes (DCI's trees: {cfg.dci_trees}), one score per replica, "
              "mean ± std; — where a metric does not apply (DCI on raw pixels)."]
    return "\n".join(lines)


def plot_table(rows: dict, path: Path) -> None:
    """A bar chart: both protocols per row, the paper's value with its error bar."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    names = list(rows)
    x = np.arange(len(names))
    fig, (ax, strong_ax) = plt.subplots(2, 1, figsize=(11 + 0.9 * (len(names) - len(ROWS)), 8.5),
                                        sharex=True)
    width = 0.27
    for offset, key, label in ((-width, "paper", "vaejax, paper protocol"),
                               (0.0, "dlib", "vaejax, disentanglement_lib protocol")):
        mean = [rows[n][key]["mean"] if rows[n][key] else np.nan for n in names]
        std = [rows[n][key]["std"] if rows[n][key] else 0.0 for n in names]
        ax.bar(x + offset, mean, width, yerr=std, capsize=3, label=label)
    ref = [_parse_reference(rows[n]["reference"]) for n in names]
    ax.bar(x + width, [r[0] for r in ref], width, yerr=[r[1] for r in ref], capsize=3,
           label="Higgins et al. 2017", color="0.6")
    for i, n in enumerate(names):
        if rows[n]["paper"] is None:
            ax.text(i - width / 2, 2, "not\nrun", ha="center", fontsize=7)
    ax.axhline(25, color="k", lw=0.5, ls=":")
    ax.set_ylabel("Higgins metric accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    for offset, key in zip((-width, 0.0, width), STRONG_METRICS):
        mean = [rows[n][key]["mean"] if rows[n][key] else np.nan for n in names]
        std = [rows[n][key]["std"] if rows[n][key] else 0.0 for n in names]
        strong_ax.bar(x + offset, mean, width, yerr=std, capsize=3, label=STRONG_LABELS[key])
    strong_ax.set_xticks(x, names, rotation=20, ha="right")
    strong_ax.set_ylabel("score (0-1)")
    strong_ax.set_ylim(0, 1.05)
    strong_ax.legend(loc="upper right", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _parse_reference(text: str) -> tuple[float, float]:
    if text == NO_REFERENCE:
        return np.nan, 0.0
    mean, _, std = text.partition("±")
    return float(mean), float(std or 0.0)


def write_outputs(root: Path, scores: dict, cfg, seconds: float) -> str:
    """Writes table.md, table.json and table.png; returns the markdown."""
    rows = summarize(scores, table_dataset(cfg))
    markdown = format_table(rows, cfg)
    (root / "table.md").write_text(markdown + "\n")
    (root / "table.json").write_text(json.dumps(
        dict(rows=rows, scores=scores, config=cfg.to_dict(), commit=cli.commit(),
             seconds=seconds), indent=2, default=list))
    plot_table(rows, root / "table.png")
    return markdown


def main(argv):
    cli.start(argv)
    cfg = flags.FLAGS.config
    root = Path(flags.FLAGS.workdir)
    reuse = scores_from(flags.FLAGS.scores_from, cfg) if flags.FLAGS.scores_from else None
    root.mkdir(parents=True, exist_ok=True)
    with workdir_lib.lock(root):
        start = time.perf_counter()
        scores = score_rows(cfg, root, progress=True, reuse=reuse)
        print(write_outputs(root, scores, cfg, time.perf_counter() - start))


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
