"""The beta trade-off: one recipe trained over beta, every point measured.

    python -m experiments.beta_sweep --config experiments/beta_vae.py:cpu \\
        --betas 1,2,4,8,16 --replicas 3 [--workdir runs/beta_sweep] \\
        [--sizes standard] [--dci_trees lightgbm] [--out docs/results] [--separate]

Each beta trains as one run of ``--replicas`` models (seeds ``seed + i``,
vmapped or mapped side by side) into ``WORKDIR/beta<beta>``, resuming there
when stopped, and is evaluated (:func:`vaejax.evaluation.evaluate.evaluate`)
replica by replica. With ``--separate`` each seed is a one-model run of its
own instead (``WORKDIR/beta<beta>/seed<i>``, the run of replica ``i``), one
after another, and its figures are kept in
``OUT/beta_sweep_seeds/beta<beta>_seed<i>.json``: a sweep too long for one
sitting then goes on in the next from OUT alone (commit it), and a model
whose replicated step gains nothing on this machine trains at its one-model
speed. Writes ``OUT/beta_sweep.json`` and ``OUT/beta_sweep.png`` (OUT
defaults to WORKDIR): per beta, the reconstruction (nats) and total KL
(nats) on 1,024 images, the active latents (KL > 0.1 nats), MIG, the
FactorVAE score and DCI disentanglement, each as the seeds' values, mean and
std. A beta (or seed) already evaluated with the same settings is read, not
redone.

The recipe's ``beta`` is what the sweep sets. A recipe with a beta schedule
that starts from ``beta_start`` (``beta_vae.py:broadcast,cpu``: warm up to
2, hold, rise to ``beta``) keeps it for every beta above ``beta_start``;
below it, ``beta_start`` is lowered to ``beta``, so the point is beta held
after the warm-up (beta 1: the VAE) rather than a fall from a larger beta.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path

from absl import app, flags
import numpy as np
from ml_collections import config_flags

from experiments import beta_vae, cli
from vaejax import train
from vaejax import workdir as workdir_lib
from vaejax.errors import ConfigError
from vaejax.evaluation import evaluate, metrics

# Quantity -> (its label, how to read it from one replica's metrics.json)
QUANTITIES = {
    "reconstruction": ("reconstruction (nats)", lambda r: r["elbo"]["reconstruction"]),
    "kl": ("total KL (nats)", lambda r: r["elbo"]["kl"]),
    "active_latents": ("active latents (KL > 0.1)", lambda r: r["active_latents"]),
    "mig": ("MIG", lambda r: r["metrics"]["mig"]["mig"]),
    "factor_vae": ("FactorVAE score", lambda r: r["metrics"]["factor_vae"]["eval_accuracy"]),
    "dci": ("DCI disentanglement", lambda r: r["metrics"]["dci"]["disentanglement"]),
}
POINT_FILE = "sweep_point.json"
SEED_DIR = "beta_sweep_seeds"  # in OUT: one file per (beta, seed) of a --separate sweep


def _define_flags():
    # Only when run as a program: importing this module (tests) defines none.
    config_flags.DEFINE_config_file(
        "config", None, "A VAE-family config, e.g. experiments/beta_vae.py:cpu.",
        lock_config=True)
    flags.DEFINE_list("betas", ["1", "2", "4", "8", "16"], "Comma-separated betas.")
    flags.DEFINE_integer("replicas", 3, "Models (seeds) per beta, trained side by side.")
    flags.DEFINE_string("workdir", None, "Parent directory (default runs/beta_sweep_<name>).")
    flags.DEFINE_string("out", None, "Where beta_sweep.json and .png go (default: workdir).")
    flags.DEFINE_enum("sizes", "standard", list(evaluate.SIZES), "Metric sizes.")
    flags.DEFINE_enum("dci_trees", "sklearn", list(metrics.DCI_TREES),
                      "DCI's tree learner: sklearn (the reference) or lightgbm (faster).")
    flags.DEFINE_bool("separate", False, "Train each seed as a one-model run of its own, "
                      "one after another, its figures kept in OUT/beta_sweep_seeds.")
    flags.DEFINE_bool("train", True, "With --separate: --notrain writes the sweep from the "
                      "seeds already in OUT/beta_sweep_seeds, training nothing.")
    flags.mark_flags_as_required(["config"])


def point_config(config, beta: float, replicas: int):
    """``config`` at ``beta`` with ``replicas`` models (and ``beta_start`` at
    most ``beta``)."""
    if replicas < 1:
        raise ConfigError(f"replicas must be at least 1, got {replicas}")
    if not beta > 0:
        raise ConfigError(f"every beta must be positive, got {beta}")
    c = copy.deepcopy(config)
    with c.unlocked():
        beta_vae.set_beta(c, beta)
        c.replicas = int(replicas)
        c.name = f"{config.name}_beta{float(beta):g}"
    return c


def seed_config(config, beta: float, replicas: int, seed: int):
    """The one-model run of seed ``seed`` (0-based) of the point at ``beta``:
    replica ``seed`` of :func:`point_config`, as a run of its own."""
    return train.replica_config(point_config(config, beta, replicas), seed)


def replica_reports(eval_dir: Path, replicas: int) -> list[dict]:
    """Each replica's metrics.json under an evaluation directory."""
    paths = ([eval_dir / "metrics.json"] if replicas == 1 else
             [eval_dir / f"replica_{i}" / "metrics.json" for i in range(replicas)])
    return [json.loads(p.read_text()) for p in paths]


def quantities(report: dict) -> dict:
    """One model's metrics.json -> ``{quantity: value}`` (:data:`QUANTITIES`)."""
    return {key: float(read(report)) for key, (_, read) in QUANTITIES.items()}


def summarize_values(beta: float, rows: list[dict]) -> dict:
    """One beta's seeds (each ``{quantity: value}``) -> per quantity ``values``,
    ``mean``, ``std``."""
    point = dict(beta=float(beta), replicas=len(rows))
    for key in QUANTITIES:
        values = [row[key] for row in rows]
        point[key] = dict(values=values, mean=float(np.mean(values)), std=float(np.std(values)))
    return point


def summarize_point(beta: float, reports: list[dict]) -> dict:
    """One beta's replicas' metrics.json -> per quantity ``values``, ``mean``, ``std``."""
    return summarize_values(beta, [quantities(r) for r in reports])


def _saved(path: Path, settings: dict) -> dict | None:
    """The JSON at ``path`` if it was made with ``settings``, else None."""
    if not path.exists():
        return None
    earlier = json.loads(path.read_text())
    same = json.loads(json.dumps(earlier.get("settings"), default=list)) == json.loads(
        json.dumps(settings, default=list))
    return earlier if same else None


def run_point(config, beta: float, replicas: int, root: Path, *, sizes: str,
              dci_trees: str, progress: bool = True) -> dict:
    """Trains and evaluates one beta (or reads its earlier result) -> its summary."""
    c = point_config(config, beta, replicas)
    workdir = root / f"beta{float(beta):g}"
    saved = workdir / POINT_FILE
    settings = dict(sizes=sizes, dci_trees=dci_trees, config=c.to_dict())
    earlier = _saved(saved, settings)
    if earlier is not None:
        return earlier["point"]
    start = time.perf_counter()
    train.train_and_evaluate(c, workdir, progress=progress)
    trained = time.perf_counter() - start
    evaluate.evaluate(workdir, sizes=sizes, dci_trees=dci_trees, progress=progress)
    point = summarize_point(beta, replica_reports(workdir / "eval", replicas))
    point["seconds"] = dict(train=trained, total=time.perf_counter() - start)
    saved.write_text(json.dumps(dict(settings=settings, point=point), indent=1, default=list))
    return point


def run_seed(config, beta: float, replicas: int, seed: int, root: Path, out: Path, *,
             sizes: str, dci_trees: str, progress: bool = True,
             train_missing: bool = True) -> dict | None:
    """Seed ``seed`` of the point at ``beta`` as a run of its own: its figures
    from ``OUT/beta_sweep_seeds`` when saved with the same settings, else
    trained and evaluated in ``ROOT/beta<beta>/seed<seed>`` and saved there
    (or None when ``train_missing`` is false)."""
    c = seed_config(config, beta, replicas, seed)
    saved = out / SEED_DIR / f"beta{float(beta):g}_seed{seed}.json"
    settings = dict(sizes=sizes, dci_trees=dci_trees, config=c.to_dict())
    record = _saved(saved, settings)
    if record is not None or not train_missing:
        return record
    workdir = root / f"beta{float(beta):g}" / f"seed{seed}"
    print(f"beta {beta:g}, seed {seed}: training in {workdir}", flush=True)
    start = time.perf_counter()
    train.train_and_evaluate(c, workdir, progress=progress)
    trained = time.perf_counter() - start
    evaluate.evaluate(workdir, sizes=sizes, dci_trees=dci_trees, progress=progress)
    report = json.loads((workdir / "eval" / "metrics.json").read_text())
    record = dict(settings=settings, workdir=str(workdir), values=quantities(report),
                  seconds=dict(train=trained, total=time.perf_counter() - start),
                  commit=cli.commit())
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(record, indent=1, default=list))
    return record


def run_separate(config, betas: list[float], replicas: int, root: Path, out: Path, *,
                 sizes: str, dci_trees: str, progress: bool = True,
                 train_missing: bool = True) -> list[dict]:
    """A ``--separate`` sweep, seed-major (seed 0 at every beta, then seed 1...)
    so that a sweep stopped early still spans every beta -> its points, each
    over the seeds it has (a beta with none is left out)."""
    records = {beta: [] for beta in betas}
    for seed in range(replicas):
        for beta in betas:
            record = run_seed(config, beta, replicas, seed, root, out, sizes=sizes,
                              dci_trees=dci_trees, progress=progress,
                              train_missing=train_missing)
            if record is not None:
                records[beta].append(record)
    points = []
    for beta, done in records.items():
        if done:
            point = summarize_values(beta, [r["values"] for r in done])
            point["seconds"] = {k: float(sum(r["seconds"][k] for r in done))
                                for k in ("train", "total")}
            points.append(point)
    return points


def plot_sweep(points: list[dict], path: Path, title: str = "") -> None:
    """Six panels against beta (log scale): each quantity's mean with its std."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    betas = [p["beta"] for p in points]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, (key, (label, _)) in zip(axes.ravel(), QUANTITIES.items()):
        mean = [p[key]["mean"] for p in points]
        std = [p[key]["std"] for p in points]
        ax.errorbar(betas, mean, yerr=std, marker="o", capsize=3)
        for p in points:
            ax.scatter([p["beta"]] * len(p[key]["values"]), p[key]["values"], s=8,
                       color="0.6", zorder=0)
        ax.set_xscale("log", base=2)
        ax.set_xticks(betas, [f"{b:g}" for b in betas])
        ax.set_xlabel("beta")
        ax.set_title(label, fontsize=10)
        if key in ("mig", "factor_vae", "dci"):
            ax.set_ylim(0, 1)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(points: list[dict], out: Path, **info) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "beta_sweep.json").write_text(json.dumps(dict(points=points, **info), indent=2,
                                                    default=list))
    counts = sorted({p["replicas"] for p in points}) or [0]
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    plot_sweep(points, out / "beta_sweep.png",
               title=f"{info.get('config_name', '')}: mean ± std over {seeds} seeds")


def format_points(points: list[dict]) -> str:
    """A markdown table of the sweep (means ± stds)."""
    head = "| beta | " + " | ".join(label for label, _ in QUANTITIES.values()) + " |"
    lines = [head, "|" + "---|" * (len(QUANTITIES) + 1)]
    for p in points:
        cells = [f"{p[k]['mean']:.3f} ± {p[k]['std']:.3f}" if k in ("mig", "factor_vae", "dci")
                 else f"{p[k]['mean']:.1f} ± {p[k]['std']:.1f}" for k in QUANTITIES]
        lines.append(f"| {p['beta']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv):
    cli.start(argv)
    fl = flags.FLAGS
    config = fl.config
    try:
        betas = sorted({float(b) for b in fl.betas})
    except ValueError:
        raise ConfigError(f"--betas must be numbers, got {','.join(fl.betas)}") from None
    for beta in betas:
        point_config(config, beta, fl.replicas)  # every bad setting named before training
    if not fl.train and not fl.separate:
        raise ConfigError("--notrain reads the seeds a --separate sweep saved: add --separate")
    root = Path(fl.workdir or "runs/beta_sweep_" + re.sub(r"[^A-Za-z0-9_.-]+", "_",
                                                          config.name))
    out = Path(fl.out) if fl.out else root
    start = time.perf_counter()
    with workdir_lib.lock(root):
        if fl.separate:
            points = run_separate(config, betas, fl.replicas, root, out, sizes=fl.sizes,
                                  dci_trees=fl.dci_trees, train_missing=fl.train)
            if not points:
                raise ConfigError(f"no seed of this sweep is saved in {out / SEED_DIR} with "
                                  "these settings: run it without --notrain first")
        else:
            points = [run_point(config, beta, fl.replicas, root, sizes=fl.sizes,
                                dci_trees=fl.dci_trees) for beta in betas]
    write_outputs(points, out, config_name=config.name, config=config.to_dict(),
                  sizes=fl.sizes, dci_trees=fl.dci_trees, separate=fl.separate,
                  commit=cli.commit(), seconds=time.perf_counter() - start)
    print(format_points(points))


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
