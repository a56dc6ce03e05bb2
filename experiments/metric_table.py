"""Reproduces the disentanglement-metric table of Higgins et al. (2017) on dSprites.

    python -m experiments.metric_table --config experiments/metric_table_config.py:cpu \
        --workdir runs/metric_table

Trains (or resumes) the VAE and beta-VAE for each seed in WORKDIR/<model>_seed<k>,
scores every row with the Higgins metric, and writes table.md and table.csv.
"""

import csv
import importlib
from pathlib import Path

from absl import app, flags, logging
import jax
import numpy as np
from ml_collections import config_flags

from vaejax import memory, models, train
from vaejax.data import GroundTruth, dsprites
from vaejax.evaluation import baselines, codes, evaluate, metrics

_CONFIG = config_flags.DEFINE_config_file("config", None, "metric_table_config.py[:variant]",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "runs/metric_table", "Output directory.")
flags.mark_flags_as_required(["config"])

PAPER = {  # Higgins et al. 2017, Table 1 (accuracy %)
    "ground truth factors": "100", "raw pixels": "45.75 ± 0.8", "PCA": "84.9 ± 0.4",
    "ICA": "42.03 ± 10.6", "DC-IGN": "99.3 ± 0.1", "InfoGAN": "73.5 ± 0.9",
    "VAE untrained": "44.14 ± 2.5", "VAE": "61.58 ± 0.5", "beta-VAE": "99.23 ± 0.1",
}
NOT_IMPLEMENTED = ("DC-IGN", "InfoGAN")


def model_config(name, variant, seed, num_steps):
    config = importlib.import_module(f"experiments.{name}").get_config(variant)
    config.seed = config.data_seed = seed
    if num_steps:
        config.num_steps = num_steps
        # Keep beta's ramp within the first quarter of a shortened run.
        config.beta_warmup_steps = min(config.beta_warmup_steps, num_steps // 4)
    return config


def score_rows(cfg, root: Path, seed: int, progress: bool) -> dict:
    """Higgins metric accuracy (%) of every row for one seed."""
    data = GroundTruth(dsprites.load(cfg.data_source) if cfg.data_source else None)

    def higgins(rep, memoize=True):
        if memoize:  # each grid image encoded at most once (raw pixels: 4,096-d, not memoised)
            rep = codes.MemoizedRepresentation(rep, data, progress=progress)
        out = metrics.higgins_metric(rep, data, seed=seed, num_train=cfg.higgins_num_train,
                                     num_eval=cfg.higgins_num_eval,
                                     standardize=cfg.higgins_standardize)
        return 100.0 * out["eval_accuracy"]

    scores = {
        "ground truth factors": higgins(baselines.GroundTruthFactors(), memoize=False),
        "raw pixels": higgins(baselines.raw_pixels, memoize=False),
        "PCA": higgins(baselines.pca(data, num_fit=cfg.baseline_fit_images, seed=seed)),
        "ICA": higgins(baselines.ica(data, num_fit=cfg.baseline_fit_images, seed=seed)),
    }
    vae = model_config(cfg.vae_config, cfg.vae_variant, seed, cfg.num_steps)
    untrained = models.from_config(vae)
    scores["VAE untrained"] = higgins(baselines.encoder_representation(
        untrained, models.init_params(untrained, jax.random.split(jax.random.key(seed))[0])))
    for row, name, variant in (("VAE", cfg.vae_config, cfg.vae_variant),
                               ("beta-VAE", cfg.beta_vae_config, cfg.beta_vae_variant)):
        config = model_config(name, variant, seed, cfg.num_steps)
        workdir = root / f"{row.replace('-', '_').lower()}_seed{seed}"
        train.train_and_evaluate(config, workdir, progress=progress)
        _, model, params, _ = evaluate.load_model(workdir)
        scores[row] = higgins(baselines.encoder_representation(model, params))
    return scores


def format_table(per_seed: list[dict], cfg) -> tuple[str, list[list[str]]]:
    """Markdown and CSV rows: mean ± std over seeds beside the paper's column."""
    order = ["ground truth factors", "raw pixels", "PCA", "ICA", "DC-IGN", "InfoGAN",
             "VAE untrained", "VAE", "beta-VAE"]
    lines = ["| representation | vaejax (%) | Higgins et al. 2017 (%) |", "|---|---|---|"]
    rows = [["representation", "mean", "std", "seeds", "paper"]]
    for name in order:
        if name in NOT_IMPLEMENTED:
            lines.append(f"| {name} | not implemented yet | {PAPER[name]} |")
            rows.append([name, "", "", "", PAPER[name]])
            continue
        values = np.array([s[name] for s in per_seed])
        lines.append(f"| {name} | {values.mean():.2f} ± {values.std():.2f} | {PAPER[name]} |")
        rows.append([name, f"{values.mean():.3f}", f"{values.std():.3f}",
                     " ".join(f"{v:.2f}" for v in values), PAPER[name]])
    lines.append("")
    lines.append(f"Higgins metric: {cfg.higgins_num_train} training / {cfg.higgins_num_eval} "
                 f"evaluation points, L = 64 pairs, logistic regression "
                 f"({'features standardised' if cfg.higgins_standardize else 'unscaled features'}); "
                 f"{len(per_seed)} seeds ({', '.join(map(str, cfg.seeds))}); std over seeds.")
    return "\n".join(lines), rows


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    memory.keep_freed_memory()  # before JAX's first computation (see its docstring)
    cfg = _CONFIG.value
    root = Path(_WORKDIR.value)
    root.mkdir(parents=True, exist_ok=True)
    per_seed = [score_rows(cfg, root, seed, progress=True) for seed in cfg.seeds]
    markdown, rows = format_table(per_seed, cfg)
    (root / "table.md").write_text(markdown + "\n")
    with open(root / "table.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    print(markdown)


if __name__ == "__main__":
    app.run(main)
