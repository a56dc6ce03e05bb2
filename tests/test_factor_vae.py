"""FactorVAE (Kim & Mnih 2018): losses, discriminator, train step, checkpoints."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vaejax import architectures, checkpoint, losses, models, objectives, train


def _config(arg="smoke", architecture="deep_fc"):
    # A fully connected model compiles faster; test_train runs the conv smoke config.
    config = importlib.import_module("experiments.factor_vae").get_config(arg)
    config.architecture = architecture
    return config


def test_permute_dims_shuffles_each_dimension_independently():
    z = jnp.arange(200 * 4, dtype=jnp.float32).reshape(200, 4)
    out = np.asarray(losses.permute_dims(jax.random.key(0), z))
    for d in range(4):  # each column is a permutation of itself
        np.testing.assert_array_equal(np.sort(out[:, d]), np.asarray(z[:, d]))
    rows = (out - np.asarray(z[:1])) // 4  # the source row of each entry
    assert not np.array_equal(rows[:, 0], np.arange(200))
    assert not np.array_equal(rows[:, 0], rows[:, 1])  # not one shared permutation
    with pytest.raises(ValueError, match=r"\(M, D\)"):
        losses.permute_dims(jax.random.key(0), z[0])


def test_discriminator_loss_matches_the_direct_formula():
    rng = np.random.default_rng(0)
    joint, product = rng.normal(size=(7, 2)), rng.normal(size=(5, 2))
    p_joint = np.exp(joint[:, 0]) / np.exp(joint).sum(1)
    p_product = np.exp(product[:, 1]) / np.exp(product).sum(1)
    expected = -0.5 * (np.log(p_joint).mean() + np.log(p_product).mean())
    got = losses.discriminator_loss(jnp.asarray(joint), jnp.asarray(product))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(losses.discriminator_loss(jnp.zeros((3, 2)), jnp.zeros((3, 2))),
                               np.log(2.0), rtol=1e-6)
    with pytest.raises(ValueError, match="product_logits"):
        losses.discriminator_loss(jnp.zeros((3, 2)), jnp.zeros((3, 3)))


def test_factor_vae_elbo_adds_gamma_times_the_logit_gap():
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(size=(4, 8, 8, 1)), jnp.float32)
    x = jnp.asarray(rng.random((4, 8, 8, 1)) > 0.5, jnp.float32)
    mean, logvar = (jnp.asarray(rng.normal(size=(4, 3)), jnp.float32) for _ in range(2))
    d_logits = jnp.asarray(rng.normal(size=(4, 2)), jnp.float32)
    plain = losses.beta_elbo(logits, x, mean, logvar, beta=1.0)
    zero = losses.factor_vae_elbo(logits, x, mean, logvar, d_logits, gamma=0.0)
    np.testing.assert_allclose(zero.loss, plain.loss, rtol=1e-6)  # gamma 0: the negative ELBO
    ten = losses.factor_vae_elbo(logits, x, mean, logvar, d_logits, gamma=10.0)
    gap = d_logits[:, 0] - d_logits[:, 1]
    np.testing.assert_allclose(ten.total_correlation, gap, rtol=1e-6)
    np.testing.assert_allclose(ten.loss, plain.loss + 10.0 * gap, rtol=1e-5)
    laplace = losses.factor_vae_elbo(logits, x, mean, logvar, d_logits, gamma=10.0,
                                     prior="laplace")
    np.testing.assert_allclose(laplace.kl_per_dimension,
                               losses.kl_per_dimension_laplace(mean, logvar), rtol=1e-6)
    np.testing.assert_allclose(laplace.loss, ten.loss - ten.kl + laplace.kl, rtol=1e-5)


@pytest.mark.parametrize("rho", [0.0, 0.8])
def test_trained_discriminator_estimates_the_total_correlation(rho):
    # 2-d Gaussian with correlation rho: TC = -log(1 - rho^2) / 2 (0.51 nats at 0.8).
    disc = models.Discriminator(hidden=64, layers=2)
    params = disc.init(jax.random.key(0), jnp.zeros((1, 2)))["params"]
    tx = optax.adam(3e-3)
    cov = jnp.array([[1.0, rho], [rho, 1.0]])

    def sample(key, n):
        return jax.random.multivariate_normal(key, jnp.zeros(2), cov, (n,))

    @jax.jit
    def step(params, opt_state, key):
        z_key, p_key = jax.random.split(key)
        z = sample(z_key, 512)

        def loss(p):
            both = disc.apply({"params": p}, jnp.concatenate([z, losses.permute_dims(p_key, z)]))
            return losses.discriminator_loss(both[:512], both[512:])
        updates, opt_state = tx.update(jax.grad(loss)(params), opt_state)
        return optax.apply_updates(params, updates), opt_state

    opt_state = tx.init(params)
    for key in jax.random.split(jax.random.key(1), 1500):
        params, opt_state = step(params, opt_state, key)
    z = sample(jax.random.key(2), 50_000)
    estimate = float(jnp.mean(losses.discriminator_total_correlation(
        disc.apply({"params": params}, z))))
    assert abs(estimate - (-0.5 * np.log(1 - rho ** 2))) < 0.08, estimate


def test_one_backward_pass_gives_each_network_its_own_gradient():
    config = _config()
    config.batch_size = 8
    model, tx = architectures.from_config(config), train.make_optimizer(config)
    state = train.create_train_state(config, model, tx)
    disc = models.discriminator_from_config(config)
    images = jnp.asarray(np.random.default_rng(0).random((8, 64, 64, 1)) > 0.5, jnp.float32)
    key, step = jax.random.key(3), jnp.int32(0)
    d_params = state.extra["params"]
    g_vae, g_disc = jax.grad(lambda p, d: train.loss_fn(p, model, config, images, key, step, d)[0],
                             argnums=(0, 1))(state.params, d_params)
    sample_key, _ = jax.random.split(key)

    def vae_loss(p):  # the discriminator fixed
        out = model.apply({"params": p}, images, sample_key)
        d_logits = disc.apply({"params": d_params}, out["z"])
        return jnp.mean(losses.factor_vae_elbo(out["logits"], images, out["mean"], out["logvar"],
                                               d_logits, gamma=config.gamma).loss)

    def disc_loss(d):  # the codes fixed
        z = model.apply({"params": state.params}, images, sample_key)["z"]
        zp = losses.permute_dims(jax.random.fold_in(key, 1), z)
        return losses.discriminator_loss(disc.apply({"params": d}, z), disc.apply({"params": d}, zp))

    for got, want in ((g_vae, jax.grad(vae_loss)(state.params)),
                      (g_disc, jax.grad(disc_loss)(d_params))):
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            scale = float(jnp.max(jnp.abs(b))) + 1e-12
            np.testing.assert_allclose(np.asarray(a) / scale, np.asarray(b) / scale, atol=1e-5)


def test_training_updates_and_checkpoints_the_discriminator(tmp_path):
    config = _config()
    state = train.train_and_evaluate(config, tmp_path / "straight", progress=False)
    first = _config()
    first.num_steps = 20
    train.train_and_evaluate(first, tmp_path / "resumed", progress=False)
    resumed = train.train_and_evaluate(config, tmp_path / "resumed", progress=False)
    initial = train.create_train_state(config, architectures.from_config(config),
                                       train.make_optimizer(config))
    assert not np.array_equal(state.extra["params"]["Dense_0"]["kernel"],
                              initial.extra["params"]["Dense_0"]["kernel"])
    for a, b in ((state.params, resumed.params),
                 (state.extra, resumed.extra)):
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    _, _, loaded = train.load_state(tmp_path / "straight")
    np.testing.assert_array_equal(loaded.extra["params"]["Dense_6"]["bias"],
                                  state.extra["params"]["Dense_6"]["bias"])
    smaller = _config()
    smaller.discriminator_hidden = 500
    with pytest.raises(checkpoint.CheckpointError,
                       match=r"'discriminator/Dense_0/bias' of shape \(1000,\).*\(500,\)"):
        train.load_state(tmp_path / "straight", smaller)
    plain = importlib.import_module("experiments.beta_vae").get_config("smoke")
    plain.architecture = "deep_fc"
    with pytest.raises(checkpoint.CheckpointError, match="discriminator"):
        train.load_state(tmp_path / "straight", plain)


def test_bad_factor_vae_config_names_the_field():
    config = _config()
    config.discriminator_layers = 0
    with pytest.raises(ValueError, match="config.discriminator_layers"):
        train.validate_config(config)
    config = _config()
    config.batch_size = 1
    with pytest.raises(ValueError, match="config.batch_size"):
        train.validate_config(config)


def test_nan_discriminator_loss_stops_the_run(tmp_path, monkeypatch):
    real = losses.discriminator_loss
    step_of = {}

    def poisoned(joint, product):
        return real(joint, product) + step_of["bad"]

    monkeypatch.setattr(losses, "discriminator_loss", poisoned)
    objective = objectives.get("factor_vae")
    real_loss = objective.loss

    def with_step(params, d, model, config, images, key, step):
        step_of["bad"] = jnp.where(step >= 13, jnp.nan, 0.0)  # step counts from 0
        return real_loss(params, d, model, config, images, key, step)

    monkeypatch.setattr(objective, "loss", with_step)
    with pytest.raises(train.NonFiniteLossError,
                       match=r"discriminator_loss is nan at step 14 .*step 10\)"):
        train.train_and_evaluate(_config(), tmp_path, progress=False)
    assert checkpoint.Checkpoints(tmp_path / "checkpoints").steps() == [10]
