"""The objectives as modules (vaejax.objectives), and DIP-VAE (Kumar et al. 2018)."""

import inspect
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import beta_tcvae, beta_vae, dip_vae
from vaejax import losses, objectives, train
from vaejax.errors import ConfigError
from vaejax.objectives import beta_vae as beta_vae_objective


def test_train_names_no_objective():
    source = inspect.getsource(train)
    for name in objectives.NAMES:
        assert f'"{name}"' not in source and f"'{name}'" not in source, name


def test_every_objective_is_registered_under_its_name():
    assert set(objectives.NAMES) >= {"autoencoder", "beta_vae", "capacity", "beta_tcvae",
                                     "factor_vae", "dip_vae"}
    for name in objectives.NAMES:
        assert objectives.get(name).name == name
    with pytest.raises(ConfigError, match="config.objective must be one of"):
        objectives.get("gan")


def _whitened(rng, m, d):
    x = rng.normal(size=(m, d))
    x -= x.mean(axis=0)
    u, _, _ = np.linalg.svd(x, full_matrices=False)  # orthonormal, zero-mean columns
    return jnp.asarray(u * np.sqrt(m), jnp.float32)  # batch covariance exactly I


def test_dip_penalty_is_zero_at_identity_covariance():
    rng = np.random.default_rng(0)
    mean = _whitened(rng, 256, 6)
    cov = losses.dip_covariance(mean, jnp.zeros_like(mean), dip_type="i")
    np.testing.assert_allclose(cov, np.eye(6), atol=1e-5)
    assert float(losses.dip_regularizer(cov, lambda_od=10, lambda_d=100)) < 1e-7
    # II: half the variance in the means, half in the posterior noise
    cov2 = losses.dip_covariance(mean * np.sqrt(0.5), jnp.full_like(mean, np.log(0.5)),
                                 dip_type="ii")
    assert float(losses.dip_regularizer(cov2, lambda_od=10, lambda_d=10)) < 1e-7


def test_dip_penalty_matches_numpy_on_a_random_batch():
    rng = np.random.default_rng(1)
    mean = rng.normal(size=(64, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0] + rng.normal(size=5)
    logvar = rng.normal(size=(64, 5))
    for dip_type, lambda_od, lambda_d in (("i", 2.0, 20.0), ("ii", 5.0, 5.0)):
        cov = np.cov(mean, rowvar=False, bias=True)
        if dip_type == "ii":
            cov = cov + np.diag(np.exp(logvar).mean(axis=0))
        off = cov - np.diag(np.diag(cov))
        want = lambda_od * np.sum(off ** 2) + lambda_d * np.sum((np.diag(cov) - 1) ** 2)
        got = losses.dip_regularizer(
            losses.dip_covariance(jnp.asarray(mean, jnp.float32), jnp.asarray(logvar, jnp.float32),
                                  dip_type=dip_type), lambda_od=lambda_od, lambda_d=lambda_d)
        np.testing.assert_allclose(float(got), want, rtol=1e-4)


def test_dip_vae_loss_is_the_elbo_plus_the_penalty():
    config = dip_vae.get_config("smoke")
    model = train.architectures.from_config(config)
    state = train.create_train_state(config, model, train.make_optimizer(config))
    images = jnp.asarray(np.random.default_rng(2).random((16, 64, 64, 1)) > 0.8, jnp.float32)
    key, step = jax.random.key(3), jnp.int32(0)
    loss, metrics = train.loss_fn(state.params, model, config, images, key, step)
    elbo, _ = train.loss_fn(state.params, model, _as_beta_vae(config), images, key, step)
    np.testing.assert_allclose(float(loss), float(elbo) + float(metrics["dip_penalty"]),
                               rtol=1e-5)
    assert float(metrics["dip_penalty"]) > 0


def _as_beta_vae(config):
    c = config.copy_and_resolve_references()
    c.objective, c.beta, c.beta_warmup_steps = "beta_vae", 1.0, 0
    return c


def test_dip_vae_trains_and_logs_its_penalty(tmp_path):
    config = dip_vae.get_config("ii,smoke")
    train.train_and_evaluate(config, tmp_path, progress=False)
    records = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == config.num_steps
    assert all(np.isfinite(r["dip_penalty"]) and np.isfinite(r["loss"]) for r in records)
    assert records[-1]["loss"] < records[0]["loss"]


@pytest.mark.parametrize("field,value,message", [
    ("dip_type", "iii", "config.dip_type must be one of"),
    ("lambda_od", -1.0, "config.lambda_od >= 0"),
])
def test_dip_vae_bad_config_names_the_field(field, value, message):
    config = dip_vae.get_config("smoke")
    config[field] = value
    with pytest.raises(ConfigError, match=message):
        train.validate_config(config)


def test_capacity_gamma_warmup_ramps_the_penalty_from_zero():
    from experiments import beta_vae_capacity
    config = beta_vae_capacity.get_config("smoke")
    config.gamma_warmup_steps = 100
    config.capacity_steps = 10**9  # C ~ 0 at every step below, so |KL - C| is the same
    model = train.architectures.from_config(config)
    state = train.create_train_state(config, model, train.make_optimizer(config))
    images = jnp.asarray(np.random.default_rng(4).random((8, 64, 64, 1)) > 0.8, jnp.float32)
    key = jax.random.key(5)
    penalty = {}
    for step in (0, 25, 100):
        loss, metrics = train.loss_fn(state.params, model, config, images, key, jnp.int32(step))
        penalty[step] = float(loss) - float(metrics["reconstruction"])
        assert float(metrics["gamma"]) == pytest.approx(config.gamma * min(step / 100, 1.0))
    assert penalty[0] == 0.0
    assert penalty[100] > 0
    np.testing.assert_allclose(penalty[25], 0.25 * penalty[100], rtol=1e-3)


def test_beta_tcvae_negative_mi_weight_names_the_field():
    config = beta_tcvae.get_config("smoke")
    config.mi_weight = -0.5
    with pytest.raises(ConfigError, match=r"config.mi_weight .* must be >= 0, got -0.5"):
        train.validate_config(config)


def test_beta_annealed_from_above_is_geometric():
    config = beta_vae.get_config("conv,smoke")
    config.beta, config.beta_warmup_steps = 4.0, 0
    config.beta_start, config.beta_anneal_steps = 32.0, 1000
    at = [float(beta_vae_objective.beta_at(config, jnp.int32(s))) for s in (0, 500, 1000, 5000)]
    np.testing.assert_allclose(at, [32.0, 32.0 * (4.0 / 32.0) ** 0.5, 4.0, 4.0], rtol=1e-6)
    objectives.get("beta_vae").validate(config)
    # without it, the warm-up ramp from 0 as before
    config.beta_start, config.beta_warmup_steps = 0.0, 100
    assert float(beta_vae_objective.beta_at(config, jnp.int32(50))) == pytest.approx(2.0)


def test_beta_warmed_up_held_then_annealed():
    config = beta_vae.get_config("conv,smoke")
    config.beta, config.beta_start, config.beta_warmup_steps = 4.0, 16.0, 100
    config.beta_anneal_begin, config.beta_anneal_steps = 400, 200
    steps = (0, 50, 100, 399, 400, 500, 600, 10_000)
    at = [float(beta_vae_objective.beta_at(config, jnp.int32(s))) for s in steps]
    np.testing.assert_allclose(at, [0.0, 8.0, 16.0, 16.0, 16.0, 16.0 * 0.25 ** 0.5, 4.0, 4.0],
                               rtol=1e-6)
    objectives.get("beta_vae").validate(config)


@pytest.mark.parametrize("fields, message", [
    (dict(beta_start=8.0, beta_anneal_steps=0), "needs config.beta_anneal_steps > 0"),
    (dict(beta_start=8.0, beta_anneal_steps=10, beta_warmup_steps=5, beta_anneal_begin=4),
     "beta_anneal_begin \\(4\\) must not come before the end of config.beta_warmup_steps"),
    (dict(beta_start=-1.0), "must be 0 \\(no annealing\\) or positive"),
])
def test_beta_annealing_config_errors(fields, message):
    config = beta_vae.get_config("smoke")
    for field, value in fields.items():
        config[field] = value
    with pytest.raises(ConfigError, match=message):
        train.validate_config(config)
