"""Writes a run's report page: one self-contained HTML file.

    python -m experiments.report --workdir runs/beta_vae [--eval_dir DIR] [--output FILE]

Reads WORKDIR (config.json, metrics.jsonl) and its evaluation (default
WORKDIR/eval, as experiments.evaluate writes it) and writes
WORKDIR/report.html. ``--workdir pretrained:NAME`` reads a shipped
pretrained model; its report goes to --output (default ./NAME_report.html).
"""

from pathlib import Path

from absl import app, flags

from experiments import cli
from vaejax import pretrained
from vaejax.evaluation import report


def _define_flags():
    # Only when run as a program: importing this module defines no flag.
    flags.DEFINE_string("workdir", None, "A workdir written by experiments.run, or "
                        "pretrained:NAME.")
    flags.DEFINE_string("eval_dir", None, "Where experiments.evaluate wrote "
                        "(default: WORKDIR/eval).")
    flags.DEFINE_string("output", None, "The HTML file (default: WORKDIR/report.html).")
    flags.mark_flags_as_required(["workdir"])


def main(argv):
    fl = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    workdir = pretrained.resolve(fl.workdir)
    output = fl.output
    if output is None and pretrained.is_shipped(workdir):
        output = Path.cwd() / f"{workdir.name}_report.html"
    if output is not None:
        pretrained.check_writable(output)
    print(report.write_report(workdir, fl.eval_dir, output))


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
