"""Picks the most disentangled of several evaluated models and writes best_model.json.

    python -m experiments.best_model --eval_dir runs/a/eval --eval_dir runs/b/eval/replica_1 \
        [--previous docs/results/best_model.json] [--rank_by mig] [--out docs/results]

Each ``--eval_dir`` is what ``experiments.evaluate`` wrote at standard sizes
(its ``metrics.json`` and ``traversals.png``). The best is the one with the
highest MIG (ties: FactorVAE score), or with ``--rank_by factor_vae`` the
highest FactorVAE score (ties: MIG); OUT/best_model.json gets its config,
replica and every metric, plus the median over all the candidates, and
OUT/best_model_traversals.png its traversals.

``--previous`` carries the candidates of an earlier best_model.json into the
pool (workdirs do not outlive a session; the file does), with the
traversals beside it; a workdir evaluated again replaces its old entry.
Entries written before candidates carried every metric count in the
medians of FactorVAE and MIG only.
"""

import json
import shutil
from pathlib import Path

from absl import app, flags

from experiments import cli
from vaejax.errors import InputError



def _define_flags():
    # Only when run as a program: importing this module (tests) defines none.
    flags.DEFINE_multi_string("eval_dir", None, "An experiments.evaluate output directory "
                              "(repeat for each candidate).")
    flags.DEFINE_string("previous", None, "An earlier best_model.json whose candidates join "
                        "the pool.")
    flags.DEFINE_enum("rank_by", "mig", list(RANK_KEYS), "The metric that picks the best "
                      "(ties: the other).")
    flags.DEFINE_string("out", "docs/results", "Where best_model.json goes.")


def summary(results: dict) -> dict:
    """The metrics best_model.json reports, from one evaluation's metrics.json."""
    m = results["metrics"]
    return dict(factor_vae=m["factor_vae"]["eval_accuracy"], mig=m["mig"]["mig"],
                dci=dict(m["dci"]), higgins_paper=100.0 * m["higgins"]["eval_accuracy"],
                higgins_dlib=100.0 * m["higgins_dlib"]["eval_accuracy"], sap=m["sap"]["sap"],
                modularity=m["modularity_explicitness"]["modularity"])


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


MEDIAN_KEYS = ("factor_vae", "mig", "higgins_paper", "higgins_dlib")
# --rank_by -> the sort key of a candidate
RANK_KEYS = {"mig": lambda c: (c["mig"], c["factor_vae"]),
             "factor_vae": lambda c: (c["factor_vae"], c["mig"])}


# What names a candidate's run, beside its metrics in each candidates entry.
RUN_KEYS = ("workdir", "replica", "config", "step", "eval_seed")


def _candidate(results: dict, metrics: dict) -> dict:
    return dict(workdir=results["workdir"], replica=results["replica"],
                config=results["config"], step=results["step"], eval_seed=results["seed"],
                **metrics)


def _run_id(entry: dict) -> tuple:
    return entry["workdir"], entry["replica"]


def _previous_candidates(path: Path) -> list[tuple[dict, Path | None]]:
    """(entry, traversals PNG or None) for each candidate of an earlier
    best_model.json; its best with every metric and its picture."""
    if not path.is_file():
        raise InputError(f"--previous {path} not found")
    content = json.loads(path.read_text())
    try:
        best = _run_id(content)
        entries = [dict(c) for c in content["candidates"]]
    except (KeyError, TypeError) as e:
        raise InputError(f"--previous {path} is not a best_model.json (no {e})") from None
    out = []
    for entry in entries:
        traversals = None
        if _run_id(entry) == best:
            entry.update(_candidate(dict(content, seed=content["eval_seed"]),
                                    content["metrics"]))
            traversals = path.parent / "best_model_traversals.png"
        out.append((entry, traversals))
    return out


def select(eval_dirs, previous=None, rank_by: str = "mig") -> tuple[dict, Path]:
    """(best_model.json's content, the path of the best one's traversals PNG);
    ``rank_by``: a key of RANK_KEYS, the metric that picks the best."""
    if rank_by not in RANK_KEYS:
        raise InputError(f"rank_by must be one of {sorted(RANK_KEYS)}, got {rank_by!r}")
    candidates = []
    for directory in map(Path, eval_dirs):
        path = directory / "metrics.json"
        if not path.is_file():
            raise InputError(f"{path} not found: run experiments.evaluate first")
        results = json.loads(path.read_text())
        if results.get("sizes") != "standard":
            raise InputError(f"{path} was evaluated at {results.get('sizes')!r} sizes; "
                             "best_model.json needs the standard ones (--sizes standard)")
        candidates.append((_candidate(results, summary(results)), directory / "traversals.png"))
    if previous is not None:
        previous = Path(previous)
        new = {_run_id(c) for c, _ in candidates}
        candidates += [(c, t) for c, t in _previous_candidates(previous)
                       if _run_id(c) not in new]
    if not candidates:
        raise InputError("no --eval_dir given")
    best, traversals = max(candidates, key=lambda c: RANK_KEYS[rank_by](c[0]))
    if traversals is None:
        raise InputError(f"the best candidate, {best['workdir']}, is an earlier one whose "
                         "traversals and metrics were not kept: evaluate it again")
    entries = [c for c, _ in candidates]
    content = dict(config=best["config"], workdir=best["workdir"], replica=best["replica"],
                   eval_seed=best["eval_seed"], step=best["step"], rank_by=rank_by,
                   metrics={k: v for k, v in best.items() if k not in RUN_KEYS},
                   median={k: _median([c[k] for c in entries if k in c]) for k in MEDIAN_KEYS},
                   candidates=entries)
    return content, traversals


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    content, traversals = select(flags.FLAGS.eval_dir or [], flags.FLAGS.previous,
                                 rank_by=flags.FLAGS.rank_by)
    out = Path(flags.FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "best_model_traversals.png"
    if traversals.resolve() != target.resolve():
        shutil.copyfile(traversals, target)
    (out / "best_model.json").write_text(json.dumps(content, indent=2) + "\n")
    print(json.dumps(content["metrics"], indent=2))


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
