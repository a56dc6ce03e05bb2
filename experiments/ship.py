"""Copies a trained, evaluated workdir into vaejax/pretrained/NAME as a shipped model.

    python -m experiments.ship --workdir runs/bvae --name my_model \
        --command "python -m experiments.run --config experiments/beta_vae.py:conv,cpu --workdir runs/bvae"

Keeps config.json, metrics.jsonl, the newest checkpoint and eval/, writes
report.html anew from the copy, and pretrained.json (the command, seed, step and the
commit it was shipped at), which makes the copy read-only to every entry
point. README.md is the author's to write.
"""

import json
import os
import shutil
from pathlib import Path

from absl import app, flags

from experiments import cli
from vaejax import checkpoint, pretrained
from vaejax import workdir as workdir_lib
from vaejax.errors import InputError
from vaejax.evaluation import report


def _define_flags():
    # Only when run as a program: importing this module defines no flag.
    flags.DEFINE_string("workdir", None, "A trained and evaluated workdir.")
    flags.DEFINE_string("name", None, "The shipped model's name.")
    flags.DEFINE_string("command", None, "The command that trained it.")
    flags.mark_flags_as_required(["workdir", "name", "command"])


def main(argv):
    fl = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    src = Path(fl.workdir)
    config = checkpoint.load_config(src)
    for needed in ("eval/metrics.json",):
        if not (src / needed).is_file():
            raise InputError(f"{src} has no {needed}: run experiments.evaluate on it first")
    steps = sorted(int(p.name) for p in (src / "checkpoints").iterdir() if p.name.isdigit())
    dst = Path(pretrained.__file__).parent / fl.name
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in ("config.json", "metrics.jsonl"):
        shutil.copy2(src / name, dst / name)
    shutil.copytree(src / "eval", dst / "eval")
    shutil.copytree(src / "checkpoints" / str(steps[-1]), dst / "checkpoints" / str(steps[-1]))
    commit = cli.commit(short=True) or ""
    info = dict(name=fl.name, command=fl.command, seed=config.seed,
                data_seed=config.get("data_seed"), step=steps[-1], config=config.name,
                commit=commit)
    (dst / workdir_lib.SHIPPED_MARKER).write_text(json.dumps(info, indent=2) + "\n")
    report.write_report(Path(os.path.relpath(dst)), path=dst / "report.html")
    print(dst)


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
