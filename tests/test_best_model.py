import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from experiments import best_model
from vaejax.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def _eval_dir(root, name, mig, factor_vae, sizes="standard", replica=None, shade=0):
    directory = root / name
    directory.mkdir(parents=True)
    metrics = dict(higgins=dict(eval_accuracy=0.9), higgins_dlib=dict(eval_accuracy=0.8),
                   factor_vae=dict(eval_accuracy=factor_vae), mig=dict(mig=mig),
                   dci=dict(disentanglement=mig / 2, completeness=0.3,
                            informativeness_test=0.4),
                   sap=dict(sap=0.05), modularity_explicitness=dict(modularity=0.8))
    (directory / "metrics.json").write_text(json.dumps(
        dict(workdir=f"runs/{name}", config="beta_tcvae:broadcast:cpu", step=8000,
             replica=replica, seed=0, sizes=sizes, metrics=metrics)))
    Image.new("L", (4, 4), shade).save(directory / "traversals.png")
    return directory


def _run_command(*args):
    """Runs ``python -m experiments.best_model ARGS`` and checks it succeeded."""
    proc = subprocess.run([sys.executable, "-m", "experiments.best_model", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_best_is_the_highest_mig_with_the_median_of_all(tmp_path):
    dirs = [_eval_dir(tmp_path, "a", 0.10, 0.90, shade=10),
            _eval_dir(tmp_path, "b", 0.35, 0.70, replica=1, shade=20),
            _eval_dir(tmp_path, "c", 0.20, 0.80, shade=30)]
    content, traversals = best_model.select(dirs)
    assert traversals == dirs[1] / "traversals.png"
    assert content["replica"] == 1 and content["workdir"] == "runs/b"
    assert content["metrics"]["mig"] == 0.35 and content["metrics"]["factor_vae"] == 0.70
    assert content["metrics"]["dci"]["disentanglement"] == pytest.approx(0.175)
    assert content["metrics"]["higgins_paper"] == pytest.approx(90.0)
    assert content["median"]["mig"] == 0.20 and content["median"]["factor_vae"] == 0.80
    assert [c["workdir"] for c in content["candidates"]] == ["runs/a", "runs/b", "runs/c"]


def test_rank_by_factor_vae_picks_the_highest_factor_vae_score(tmp_path):
    dirs = [_eval_dir(tmp_path, "a", 0.10, 0.90, shade=10),
            _eval_dir(tmp_path, "b", 0.35, 0.70, shade=20),
            _eval_dir(tmp_path, "c", 0.20, 0.90, shade=30)]
    content, traversals = best_model.select(dirs, rank_by="factor_vae")
    # a and c tie on FactorVAE: the higher MIG wins
    assert traversals == dirs[2] / "traversals.png" and content["workdir"] == "runs/c"
    assert content["rank_by"] == "factor_vae"
    assert best_model.select(dirs)[0]["workdir"] == "runs/b"
    with pytest.raises(InputError, match="rank_by must be one of"):
        best_model.select(dirs, rank_by="dci")


def test_command_writes_the_json_and_the_traversals(tmp_path):
    dirs = [_eval_dir(tmp_path, "a", 0.1, 0.9, shade=10), _eval_dir(tmp_path, "b", 0.3, 0.8,
                                                                    shade=200)]
    out = tmp_path / "results"
    _run_command("--eval_dir", dirs[0], "--eval_dir", dirs[1], "--out", out)
    assert json.loads((out / "best_model.json").read_text())["metrics"]["mig"] == 0.3
    assert Image.open(out / "best_model_traversals.png").getpixel((0, 0)) == 200
    _run_command("--eval_dir", dirs[0], "--eval_dir", dirs[1], "--rank_by", "factor_vae",
                 "--out", tmp_path / "by_factor_vae")
    assert json.loads((tmp_path / "by_factor_vae" / "best_model.json").read_text())[
        "metrics"]["factor_vae"] == 0.9


def test_reduced_sizes_and_missing_evaluations_are_refused(tmp_path):
    reduced = _eval_dir(tmp_path, "r", 0.3, 0.8, sizes="reduced")
    with pytest.raises(InputError, match="standard"):
        best_model.select([reduced])
    with pytest.raises(InputError, match="metrics.json not found"):
        best_model.select([tmp_path / "nowhere"])


def _old_best_model_json(path, mig, factor_vae):
    """A best_model.json in the first format: candidates with FactorVAE and MIG only."""
    path.mkdir(parents=True)
    content = dict(config="beta_tcvae:broadcast:cpu", workdir="runs/old1", replica=None,
                   eval_seed=0, step=8000,
                   metrics=dict(factor_vae=factor_vae, mig=mig, higgins_paper=99.0,
                                higgins_dlib=88.0),
                   median=dict(factor_vae=0.7, mig=0.35),
                   candidates=[dict(workdir="runs/old0", replica=None, factor_vae=0.75, mig=0.30),
                               dict(workdir="runs/old1", replica=None, factor_vae=factor_vae,
                                    mig=mig)])
    (path / "best_model.json").write_text(json.dumps(content))
    Image.new("L", (4, 4), 99).save(path / "best_model_traversals.png")
    return path / "best_model.json"


def test_previous_candidates_join_the_pool_and_keep_their_traversals(tmp_path):
    previous = _old_best_model_json(tmp_path / "old", mig=0.40, factor_vae=0.60)
    new = _eval_dir(tmp_path, "a", 0.20, 0.90)
    content, traversals = best_model.select([new], previous)
    # the earlier best still wins, with every metric and its own picture
    assert content["workdir"] == "runs/old1" and content["metrics"]["higgins_dlib"] == 88.0
    assert traversals == previous.parent / "best_model_traversals.png"
    assert [c["workdir"] for c in content["candidates"]] == ["runs/a", "runs/old0", "runs/old1"]
    # FactorVAE and MIG over all three; Higgins over the two that carry it
    assert content["median"]["factor_vae"] == 0.75 and content["median"]["mig"] == 0.30
    assert content["median"]["higgins_paper"] == pytest.approx(94.5)
    # a better new candidate takes over; a workdir evaluated again replaces its old entry
    better = _eval_dir(tmp_path, "old0", 0.50, 0.85)
    content, traversals = best_model.select([new, better], previous)
    assert content["workdir"] == "runs/old0" and traversals == better / "traversals.png"
    assert [c["workdir"] for c in content["candidates"]] == ["runs/a", "runs/old0", "runs/old1"]
    assert content["candidates"][1]["mig"] == 0.50
    # the earlier best evaluated again and now worse: its runner-up kept no picture
    worse = _eval_dir(tmp_path, "old1", 0.10, 0.50)
    with pytest.raises(InputError, match="runs/old0.*evaluate it again"):
        best_model.select([worse], previous)


def test_command_with_previous_writes_into_the_same_folder(tmp_path):
    previous = _old_best_model_json(tmp_path / "results", mig=0.40, factor_vae=0.60)
    new = _eval_dir(tmp_path, "a", 0.45, 0.82, shade=200)
    _run_command("--eval_dir", new, "--previous", previous, "--out", previous.parent)
    written = json.loads(previous.read_text())
    assert written["workdir"] == "runs/a" and len(written["candidates"]) == 3
    assert Image.open(previous.parent / "best_model_traversals.png").getpixel((0, 0)) == 200
    # again with a weaker candidate: the best and its picture (already in place) stay
    weaker = _eval_dir(tmp_path, "b", 0.05, 0.5, shade=7)
    _run_command("--eval_dir", weaker, "--previous", previous, "--out", previous.parent)
    written = json.loads(previous.read_text())
    assert written["workdir"] == "runs/a" and len(written["candidates"]) == 4
    assert Image.open(previous.parent / "best_model_traversals.png").getpixel((0, 0)) == 200


def test_previous_that_is_not_a_best_model_json_is_refused(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps(dict(metrics={})))
    with pytest.raises(InputError, match="not a best_model.json"):
        best_model.select([], bad)
    with pytest.raises(InputError, match="not found"):
        best_model.select([], tmp_path / "missing.json")
