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

_WORKDIR = flags.DEFINE_string("workdir", None, "A workdir written by experiments.run, or "
                               "pretrained:NAME.")
_EVAL_DIR = flags.DEFINE_string("eval_dir", None, "Where experiments.evaluate wrote "
                                "(default: WORKDIR/eval).")
_OUTPUT = flags.DEFINE_string("output", None, "The HTML file (default: WORKDIR/report.html).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    workdir = pretrained.resolve(_WORKDIR.value)
    output = _OUTPUT.value
    if output is None and pretrained.is_shipped(workdir):
        output = Path.cwd() / f"{workdir.name}_report.html"
    if output is not None:
        pretrained.check_writable(output)
    print(report.write_report(workdir, _EVAL_DIR.value, output))


if __name__ == "__main__":
    app.run(cli.reports_errors(main))
