"""Trains one config over several betas and seeds, one run after another.

    python -m experiments.sweep --config experiments/beta_vae.py:cpu \\
        --betas 1,4,8 --seeds 0,1,2 [--workdir runs/sweep] [--config.num_steps=...]

Each (beta, seed) trains into ``WORKDIR/beta<beta>_seed<seed>`` (resuming
there if interrupted; finished runs are skipped at once), then
``python -m experiments.evaluate --workdir`` works on each.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from absl import app, flags
from ml_collections import config_flags

from experiments import cli
from vaejax import parallel, train
from vaejax import workdir as workdir_lib


def _define_flags():
    # Only when run as a program: importing run_sweep defines no flags.
    config_flags.DEFINE_config_file(
        "config", None, "Config file, e.g. experiments/beta_vae.py:cpu.", lock_config=True)
    flags.DEFINE_string("workdir", None, "Parent directory (default runs/sweep_<name>).")
    flags.DEFINE_list("betas", None, "Comma-separated betas (default: the config's).")
    flags.DEFINE_list("seeds", ["0"], "Comma-separated seeds (parameters and batch order).")
    flags.mark_flags_as_required(["config"])


def sweep_configs(config, betas, seeds) -> list[tuple[str, object]]:
    """[(run name, config)] for every (beta, seed); seed sets ``seed`` and ``data_seed``."""
    runs = []
    for beta in betas:
        for seed in seeds:
            run = f"beta{float(beta):g}_seed{int(seed)}"
            c = copy.deepcopy(config)
            with c.unlocked():
                c.beta = float(beta)
                c.seed = c.data_seed = int(seed)
                c.name = f"{config.name}_{run}"
            runs.append((run, c))
    return runs


def run_sweep(config, workdir, betas, seeds, *, progress=True) -> list[Path]:
    """Trains every (beta, seed) of :func:`sweep_configs` into ``workdir/<run name>``."""
    paths = []
    for name, c in sweep_configs(config, betas, seeds):
        path = Path(workdir) / name
        print(f"[{len(paths) + 1}] {c.name} -> {path}")
        train.train_and_evaluate(c, path, progress=progress)
        paths.append(path)
    return paths


def main(argv):
    cli.start(argv)
    parallel.initialize_distributed()
    fl = flags.FLAGS
    config = fl.config
    betas = fl.betas or [config.beta]
    workdir = fl.workdir or "runs/sweep_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", config.name)
    with workdir_lib.lock(workdir):
        run_sweep(config, workdir, betas, fl.seeds)


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
