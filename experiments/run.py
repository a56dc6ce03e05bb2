"""Trains a model of the autoencoder family.

    python -m experiments.run --config experiments/beta_vae.py[:variant] \
        [--workdir runs/NAME] [--config.beta=8 ...]

The run resumes from the latest checkpoint in the workdir. It uses every
device (data parallel). For several processes (hosts), start one per host
with the same flags plus ``--coordinator_address=HOST0:PORT
--num_processes=N --process_id=I`` (or the environment variables
VAEJAX_COORDINATOR_ADDRESS, VAEJAX_NUM_PROCESSES, VAEJAX_PROCESS_ID;
``--num_processes=-1`` lets JAX detect a Cloud TPU pod or SLURM job).
"""

import re

import jax
from absl import app, flags
from ml_collections import config_flags

from experiments import cli
from vaejax import parallel, train


def _define_flags():
    # Only when run as a program: importing this module defines no flag.
    config_flags.DEFINE_config_file(
        "config", None, "Config file, e.g. experiments/beta_vae.py:cpu.", lock_config=True)
    flags.DEFINE_string(
        "workdir", None, "Directory for checkpoints and logs (default runs/<config name>).")
    flags.DEFINE_string(
        "coordinator_address", None, "host:port of process 0 for a multi-process run.")
    flags.DEFINE_integer("num_processes", None, "Processes in the run.")
    flags.DEFINE_integer("process_id", None, "This process's index.")
    flags.mark_flags_as_required(["config"])


def default_workdir(config) -> str:
    return "runs/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", config.name)


def main(argv):
    fl = flags.FLAGS
    cli.start(argv)
    parallel.initialize_distributed(fl.coordinator_address, fl.num_processes, fl.process_id)
    config = fl.config
    workdir = fl.workdir or default_workdir(config)
    if jax.process_index() == 0:
        print(f"Training {config.name} in {workdir} on {jax.device_count()} "
              f"{jax.devices()[0].platform} device(s), {jax.process_count()} process(es)")
    train.train_and_evaluate(config, workdir)


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
