"""Trains a model of the autoencoder family.

    python -m experiments.run --config experiments/beta_vae.py[:variant] \
        [--workdir runs/NAME] [--config.beta=8 ...]

The run resumes from the latest checkpoint in the workdir.
"""

import re

from absl import app, flags, logging
from ml_collections import config_flags

from vaejax import train

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file, e.g. experiments/beta_vae.py:cpu.", lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Directory for checkpoints and logs (default runs/<config name>).")
flags.mark_flags_as_required(["config"])


def default_workdir(config) -> str:
    return "runs/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", config.name)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    config = _CONFIG.value
    workdir = _WORKDIR.value or default_workdir(config)
    print(f"Training {config.name} in {workdir}")
    train.train_and_evaluate(config, workdir)


if __name__ == "__main__":
    app.run(main)
