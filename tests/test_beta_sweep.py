"""experiments/beta_sweep.py: a recipe over beta, and the ELBO terms evaluation reports."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from experiments import beta_sweep, beta_vae, vae
from vaejax import architectures, losses, models
from vaejax.data import GroundTruth
from vaejax.errors import ConfigError
from vaejax.evaluation import evaluate
from vaejax.objectives import beta_vae as beta_vae_objective

ROOT = Path(__file__).resolve().parents[1]


def _report(rec, kl, active, mig, fvae, dci):
    return dict(elbo=dict(reconstruction=rec, kl=kl), active_latents=active,
                metrics=dict(mig=dict(mig=mig), factor_vae=dict(eval_accuracy=fvae),
                             dci=dict(disentanglement=dci)))


def test_a_point_is_the_mean_and_spread_of_its_replicas(tmp_path):
    one = beta_sweep.summarize_point(1, [_report(80.0, 30.0, 10, 0.05, 0.6, 0.1),
                                         _report(84.0, 28.0, 9, 0.07, 0.5, 0.2)])
    four = beta_sweep.summarize_point(4, [_report(110.0, 12.0, 5, 0.3, 0.8, 0.4),
                                          _report(114.0, 14.0, 6, 0.2, 0.9, 0.5),
                                          _report(112.0, 13.0, 5, 0.25, 0.85, 0.45)])
    assert one["reconstruction"] == dict(values=[80.0, 84.0], mean=82.0, std=2.0)
    assert one["active_latents"]["mean"] == 9.5 and four["replicas"] == 3
    assert four["mig"]["mean"] == pytest.approx(0.25)
    assert four["kl"]["std"] == pytest.approx(np.std([12.0, 14.0, 13.0]))
    beta_sweep.write_outputs([one, four], tmp_path, config_name="beta_vae:test")
    saved = json.loads((tmp_path / "beta_sweep.json").read_text())
    assert [p["beta"] for p in saved["points"]] == [1.0, 4.0]
    assert saved["config_name"] == "beta_vae:test"
    img = np.asarray(Image.open(tmp_path / "beta_sweep.png").convert("L"), np.float32)
    assert img.shape[1] > 1000 and img.std() > 5
    table = beta_sweep.format_points([one, four])
    assert "| 4 | 112.0 ± 1.6 | 13.0 ± 0.8 | 5.3 ± 0.5 | 0.250 ± 0.041 |" in table


@pytest.mark.parametrize("beta,replicas,message", [(0.0, 2, "positive"), (-1.0, 2, "positive"),
                                                   (4.0, 0, "replicas")])
def test_bad_sweep_settings_are_named(beta, replicas, message):
    with pytest.raises(ConfigError, match=message):
        beta_sweep.point_config(beta_vae.get_config("smoke"), beta, replicas)


def test_point_config_sets_beta_and_replicas_only():
    base = beta_vae.get_config("cpu")
    c = beta_sweep.point_config(base, 8, 3)
    assert (c.beta, c.replicas) == (8.0, 3) and c.name == "beta_vae:cpu_beta8"
    changed = {k for k in c if c[k] != base[k]}
    assert changed == {"beta", "replicas", "name"}
    assert base.beta == 4.0  # the recipe itself is left alone


def test_a_scheduled_recipe_never_rises_above_the_swept_beta():
    recipe = beta_vae.get_config("broadcast,cpu")
    assert recipe.beta_start == 2.0 and recipe.beta == 8.0
    steps = jnp.arange(0, recipe.num_steps + 1, 250)
    for beta, start in [(1, 1.0), (2, 2.0), (4, 2.0), (16, 2.0)]:
        c = beta_sweep.point_config(recipe, beta, 1)
        assert c.beta_start == start
        schedule = np.asarray(beta_vae_objective.beta_at(c, steps))
        assert schedule.max() == pytest.approx(beta, rel=1e-6)
        assert schedule[-1] == pytest.approx(beta, rel=1e-6)
        assert np.all(np.diff(schedule) >= -1e-6)  # warm-up, hold, rise: never down
    assert recipe.beta_start == 2.0  # the recipe itself is left alone


def test_the_broadcast_vae_is_the_recipe_at_beta_one():
    vae_config = vae.get_config("broadcast,cpu")
    point = beta_sweep.point_config(beta_vae.get_config("broadcast,cpu"), 1, 1)
    assert {k for k in point if point[k] != vae_config[k]} == {"name"}
    assert (vae_config.beta, vae_config.beta_start, vae_config.architecture) == (
        1.0, 1.0, "broadcast")


def test_a_seed_run_is_the_replica_of_the_point():
    recipe = beta_vae.get_config("broadcast,cpu")
    c = beta_sweep.seed_config(recipe, 4, 3, 2)
    assert (c.beta, c.replicas, c.seed, c.data_seed) == (4.0, 1, recipe.seed + 2,
                                                         recipe.data_seed + 2)
    with pytest.raises(ValueError, match="replica"):
        beta_sweep.seed_config(recipe, 4, 3, 3)


def _fake_runs(monkeypatch, trained):
    """train/evaluate stand-ins: metrics.json figures made from (beta, seed)."""
    def fake_train(config, workdir, progress=True):
        trained.append((config.beta, config.seed))
        Path(workdir).mkdir(parents=True)

    def fake_evaluate(workdir, **_):
        beta = float(Path(workdir).parent.name[len("beta"):])
        seed = int(Path(workdir).name[len("seed"):])
        (Path(workdir) / "eval").mkdir()
        (Path(workdir) / "eval" / "metrics.json").write_text(json.dumps(
            _report(100 * beta + seed, 10 / beta, 10 - seed, 0.1 * seed, 0.5, 0.2)))

    monkeypatch.setattr(beta_sweep.train, "train_and_evaluate", fake_train)
    monkeypatch.setattr(beta_sweep.evaluate, "evaluate", fake_evaluate)


def test_a_separate_sweep_runs_seed_major_and_resumes_from_its_out_dir(tmp_path, monkeypatch):
    trained = []
    _fake_runs(monkeypatch, trained)
    recipe = beta_vae.get_config("smoke")
    kwargs = dict(sizes="smoke", dci_trees="sklearn", progress=False)
    points = beta_sweep.run_separate(recipe, [1.0, 4.0], 2, tmp_path / "w", tmp_path / "out",
                                     **kwargs)
    s = recipe.seed
    assert trained == [(1.0, s), (4.0, s), (1.0, s + 1), (4.0, s + 1)]
    assert [p["beta"] for p in points] == [1.0, 4.0]
    assert points[1]["reconstruction"]["values"] == [400.0, 401.0]
    assert points[0]["mig"]["mean"] == pytest.approx(0.05)
    saved = sorted(f.name for f in (tmp_path / "out" / beta_sweep.SEED_DIR).iterdir())
    assert saved == ["beta1_seed0.json", "beta1_seed1.json", "beta4_seed0.json",
                     "beta4_seed1.json"]
    # a new sitting: the workdirs are gone, OUT alone is kept
    again = beta_sweep.run_separate(recipe, [1.0, 4.0], 2, tmp_path / "w2", tmp_path / "out",
                                    **kwargs)
    assert again == points and len(trained) == 4
    # a third seed trains only the missing runs
    more = beta_sweep.run_separate(recipe, [1.0, 4.0], 3, tmp_path / "w3", tmp_path / "out",
                                   **kwargs)
    assert trained[4:] == [(1.0, s + 2), (4.0, s + 2)]
    assert more[1]["replicas"] == 3 and more[1]["reconstruction"]["values"][:2] == [400.0, 401.0]
    # other settings are not mixed in: without training there is nothing to read
    assert beta_sweep.run_separate(recipe, [1.0], 2, tmp_path / "w4", tmp_path / "out",
                                   sizes="reduced", dci_trees="sklearn", progress=False,
                                   train_missing=False) == []
    partial = beta_sweep.run_separate(recipe, [1.0, 2.0, 4.0], 4, tmp_path / "w4",
                                      tmp_path / "out", train_missing=False, **kwargs)
    assert [(p["beta"], p["replicas"]) for p in partial] == [(1.0, 3), (4.0, 3)]
    assert len(trained) == 6


def test_reconstruction_and_kl_against_a_second_computation():
    model = architectures.build("deep_fc", latents=4, variational=True)
    params = models.init_params(model, jax.random.key(1))
    data = GroundTruth()
    images = data.images(data.sample_factors(32, np.random.default_rng(0)))
    key = jax.random.key(5)
    rec, kl = evaluate.reconstruction_and_kl(model, params, images, key)
    mean, logvar = model.apply({"params": params}, images, method=lambda m, x: m.encoder(x))
    assert kl == pytest.approx(float(np.mean(losses.kl_diagonal_gaussian(mean, logvar))),
                               rel=1e-5)
    z = np.asarray(mean) + np.exp(np.asarray(logvar) / 2) * np.asarray(
        jax.random.normal(key, mean.shape))
    logits = np.asarray(model.apply({"params": params}, z, method=models.Autoencoder.decode),
                        np.float64)
    x = np.asarray(images, np.float64)
    # -log Bernoulli(x; sigmoid(l)) = softplus(l) - x l, summed over pixels
    nll = np.sum(np.logaddexp(0, logits) - x * logits, axis=(1, 2, 3))
    assert rec == pytest.approx(nll.mean(), rel=1e-4)


@pytest.mark.slow
def test_beta_sweep_command_trains_evaluates_and_resumes(tmp_path):
    command = [sys.executable, "-m", "experiments.beta_sweep", "--config",
               "experiments/beta_vae.py:smoke", "--betas", "4,1", "--replicas", "2",
               "--sizes", "smoke", "--workdir", str(tmp_path / "w"), "--out", str(tmp_path)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = json.loads((tmp_path / "beta_sweep.json").read_text())
    assert [p["beta"] for p in sweep["points"]] == [1.0, 4.0]
    for point in sweep["points"]:
        for key in beta_sweep.QUANTITIES:
            assert len(point[key]["values"]) == 2
            assert point[key]["mean"] == pytest.approx(np.mean(point[key]["values"]))
    config = json.loads((tmp_path / "w" / "beta4" / "config.json").read_text())
    assert config["beta"] == 4.0 and config["replicas"] == 2
    report = json.loads((tmp_path / "w" / "beta4" / "eval" / "replica_1" / "metrics.json")
                        .read_text())
    assert sweep["points"][1]["mig"]["values"][1] == report["metrics"]["mig"]["mig"]
    assert "| 4 |" in proc.stdout
    saved = tmp_path / "w" / "beta1" / "sweep_point.json"
    before = saved.stat().st_mtime_ns
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert saved.stat().st_mtime_ns == before  # read, not trained or evaluated again
    assert json.loads((tmp_path / "beta_sweep.json").read_text())["points"] == sweep["points"]


@pytest.mark.parametrize("extra,message", [(["--notrain"], "add --separate"),
                                           (["--notrain", "--separate"], "no seed of this sweep")])
def test_a_sweep_with_nothing_to_read_says_so(tmp_path, extra, message):
    command = [sys.executable, "-m", "experiments.beta_sweep", "--config",
               "experiments/beta_vae.py:smoke", "--betas", "1", "--replicas", "1",
               "--workdir", str(tmp_path / "w"), *extra]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and message in proc.stderr
    assert not (tmp_path / "w" / "beta_sweep.json").exists()


@pytest.mark.slow
def test_a_separate_sweep_command_trains_each_seed_on_its_own(tmp_path):
    command = [sys.executable, "-m", "experiments.beta_sweep", "--config",
               "experiments/beta_vae.py:smoke", "--betas", "2", "--replicas", "2",
               "--sizes", "smoke", "--separate", "--workdir", str(tmp_path / "w"),
               "--out", str(tmp_path / "out")]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = json.loads((tmp_path / "out" / "beta_sweep.json").read_text())
    assert sweep["separate"] and sweep["points"][0]["replicas"] == 2
    for seed in (0, 1):
        config = json.loads((tmp_path / "w" / "beta2" / f"seed{seed}" / "config.json")
                            .read_text())
        assert (config["beta"], config["replicas"], config["seed"]) == (2.0, 1, seed)
        report = json.loads((tmp_path / "w" / "beta2" / f"seed{seed}" / "eval" /
                             "metrics.json").read_text())
        assert sweep["points"][0]["mig"]["values"][seed] == report["metrics"]["mig"]["mig"]
    read = subprocess.run(command[:-4] + ["--workdir", str(tmp_path / "elsewhere"), "--out",
                                          str(tmp_path / "out"), "--notrain"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert read.returncode == 0, read.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "beta_sweep.json").read_text())["points"] == \
        sweep["points"]
    assert not (tmp_path / "elsewhere" / "beta2").exists()
