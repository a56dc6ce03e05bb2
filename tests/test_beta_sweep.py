"""experiments/beta_sweep.py: a recipe over beta, and the ELBO terms evaluation reports."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from experiments import beta_sweep, beta_vae
from vaejax import architectures, losses, models
from vaejax.data import GroundTruth
from vaejax.errors import ConfigError
from vaejax.evaluation import evaluate

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
