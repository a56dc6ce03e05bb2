"""InfoGAN (vaejax.infogan, vaejax.objectives.infogan, losses.infogan_mutual_information)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from experiments import infogan as infogan_config
from experiments import vae as vae_config
from vaejax import architectures, infogan, losses, models, objectives, train
from vaejax.evaluation import evaluate
from vaejax.errors import ConfigError
from vaejax.objectives import infogan as objective_module


@pytest.mark.parametrize("mean,sigma", [(0.0, 1.0), (0.3, 0.5)])
def test_mutual_information_bound_matches_its_closed_form_for_a_fixed_gaussian_q(mean, sigma):
    # c ~ U[-1, 1] on a fine midpoint grid, Q = N(mean, sigma^2) for every image:
    # E[log Q] = -log(2 pi sigma^2) / 2 - (1/3 + mean^2) / (2 sigma^2), H(c) = log 2.
    n = 20_000
    c = jnp.asarray((np.arange(n) + 0.5) / n * 2 - 1, jnp.float32)[:, None]
    bound = losses.infogan_mutual_information(c, jnp.full_like(c, mean),
                                              jnp.full_like(c, 2 * np.log(sigma)))
    closed = np.log(2) - 0.5 * np.log(2 * np.pi * sigma**2) - (1 / 3 + mean**2) / (2 * sigma**2)
    np.testing.assert_allclose(float(jnp.mean(bound)), closed, atol=1e-5)


def test_mutual_information_bound_per_example_matches_scipy():
    rng = np.random.default_rng(0)
    c, mean = rng.uniform(-1, 1, (7, 5)), rng.normal(size=(7, 5))
    logvar = rng.normal(size=(7, 5))
    got = losses.infogan_mutual_information(*(jnp.asarray(a, jnp.float32) for a in (c, mean, logvar)))
    want = 5 * np.log(2) + stats.norm.logpdf(c, mean, np.exp(logvar / 2)).sum(axis=1)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    with pytest.raises(ValueError, match="share one shape"):
        losses.infogan_mutual_information(jnp.zeros((2, 5)), jnp.zeros((2, 4)), jnp.zeros((2, 4)))


def test_gan_losses_are_log_2_at_chance():
    zeros = jnp.zeros(8)
    np.testing.assert_allclose(float(losses.gan_discriminator_loss(zeros, zeros)), 2 * np.log(2),
                               rtol=1e-6)
    np.testing.assert_allclose(float(losses.gan_generator_loss(zeros)), np.log(2), rtol=1e-6)


def _toy_config():
    config = infogan_config.get_config("smoke")
    config.latents = 2
    config.gan_noise = 3
    return config


def test_one_step_alternates_discriminator_then_generator():
    config = _toy_config()
    model = infogan.fc_infogan(2, 3, (16,), (8, 8, 1))
    tx = train.make_optimizer(config)
    state = train.create_train_state(config, model, tx)
    images = jax.random.uniform(jax.random.key(3), (16, 8, 8, 1))
    key = jax.random.key(4)
    objective = objectives.get("infogan")
    new, metrics = objective.train_update(config, model, tx, state, images, key)
    assert int(new.step) == 1 and np.isfinite(float(metrics["loss"]))

    # By hand: Adam on the discriminator's loss, then on the generator's
    # against the updated discriminator.
    parts = objective_module.part_optimizers(config)
    c, noise = infogan.sample_inputs(model, key, 16)
    p = dict(state.params)
    d_grads, _ = jax.grad(objective_module._discriminator_loss, has_aux=True)(  # pylint: disable=protected-access
        p["encoder"], p, model, config, images, c, noise)
    upd, _ = parts["encoder"].update(d_grads, state.opt_state["encoder"], p["encoder"])
    encoder = optax.apply_updates(p["encoder"], upd)
    chex_close = lambda a, b: jax.tree.map(  # noqa: E731
        lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7), a, b)
    chex_close(new.params["encoder"], encoder)

    def generator_after(enc):
        both = dict(p, encoder=enc)
        g, _ = jax.grad(objective_module._generator_loss, has_aux=True)(  # pylint: disable=protected-access
            p["decoder"], both, model, config, c, noise)
        u, _ = parts["decoder"].update(g, state.opt_state["decoder"], p["decoder"])
        return optax.apply_updates(p["decoder"], u)

    chex_close(new.params["decoder"], generator_after(encoder))
    # Against the old discriminator (a simultaneous update) the generator differs.
    old = jax.tree.leaves(generator_after(p["encoder"]))
    assert any(not np.allclose(a, b, rtol=1e-5, atol=1e-7)
               for a, b in zip(old, jax.tree.leaves(new.params["decoder"])))


def _bumps(u, size=8, sigma=1.5):
    """Codes u in [-1, 1]^(B, 2) -> (B, size, size, 1) Gaussian bumps centred at
    u's (row, column), mapped onto [1.5, size - 2.5] pixels."""
    centre = 1.5 + (u + 1) / 2 * (size - 4)
    grid = jnp.arange(size, dtype=jnp.float32)
    rows = jnp.exp(-(grid - centre[:, :1]) ** 2 / (2 * sigma**2))
    cols = jnp.exp(-(grid - centre[:, 1:]) ** 2 / (2 * sigma**2))
    return (rows[:, :, None] * cols[:, None, :])[..., None]


@pytest.mark.parametrize("seed", [0, 3])
def test_q_recovers_the_two_codes_of_a_toy_data_set(seed):
    # Images made from two codes (a bump's row and column); an InfoGAN with two
    # codes and no noise must learn a generator whose codes Q reads back from
    # *real* images: each true code correlates > 0.9 with its own Q dimension.
    config = _toy_config()
    config.gan_noise = 0
    config.learning_rate = config.discriminator_learning_rate = 2e-3
    model = infogan.fc_infogan(2, 0, (64,), (8, 8, 1))
    tx = train.make_optimizer(config)
    objective = objectives.get("infogan")

    def step(state, key):
        data_key, step_key = jax.random.split(key)
        u = jax.random.uniform(data_key, (64, 2), minval=-1, maxval=1)
        return objective.train_update(config, model, tx, state, _bumps(u), step_key)

    state = train.create_train_state(config, model, tx)
    state, _ = jax.jit(lambda s, k: jax.lax.scan(step, s, jax.random.split(k, 10_000)))(
        state, jax.random.key(seed))
    u = jax.random.uniform(jax.random.key(99), (1000, 2), minval=-1, maxval=1)
    q = objective.representation(model, state.params)(_bumps(u))
    corr = np.abs(np.corrcoef(np.asarray(u).T, np.asarray(q).T)[:2, 2:])
    best = corr.argmax(axis=1)
    assert sorted(best) == [0, 1], corr  # one Q dimension per code
    assert corr[[0, 1], best].min() > 0.9, corr


def test_smoke_run_trains_checkpoints_and_exposes_q_mean(tmp_path):
    config = infogan_config.get_config("smoke")
    final = train.train_and_evaluate(config, tmp_path, progress=False)
    assert int(final.step) == config.num_steps
    _, model, restored = train.load_state(tmp_path)
    assert isinstance(model, infogan.InfoGAN) and not model.variational
    jax.tree.map(np.testing.assert_array_equal, restored.params, final.params)
    images = jnp.zeros((3, 64, 64, 1))
    rep = objectives.get("infogan").representation(model, restored.params)(images)
    q_mean = model.apply({"params": restored.params}, images, method=model.discriminate)[1]
    np.testing.assert_allclose(np.asarray(rep), np.asarray(q_mean), rtol=1e-5, atol=1e-6)
    logits = model.apply({"params": restored.params}, jnp.zeros((2, 5)),
                         method=models.Autoencoder.decode)
    assert logits.shape == (2, 64, 64, 1)


def test_infogan_and_the_autoencoders_reject_each_others_architectures():
    config = infogan_config.get_config("smoke")
    config.architecture = "conv"
    with pytest.raises(ConfigError, match="infogan objective trains config.architecture"):
        train.validate_config(config)
    config = infogan_config.get_config("smoke")
    config.objective = "beta_vae"
    with pytest.raises(ConfigError, match="beta_vae objective trains config.architecture"):
        train.validate_config(config)
    config = infogan_config.get_config("smoke")
    config.infogan_lambda = -1.0
    with pytest.raises(ConfigError, match="infogan_lambda"):
        train.validate_config(config)


def test_traversals_vary_one_code_of_g_over_its_prior_with_the_rest_fixed():
    model = infogan.fc_infogan(3, 2, (8,), (8, 8, 1))
    seed = np.array([0.2, 1.7, -0.4], np.float32)  # Q's mean may leave [-1, 1]
    spread_centre, spread = np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.5, 0.5])
    values, z = evaluate.traversal_codes(model, seed, spread_centre, spread, limit=3.0)
    np.testing.assert_allclose(values, np.linspace(-1, 1, 10))
    for d in range(3):
        np.testing.assert_allclose(z[d, :, d], values)
        others = [k for k in range(3) if k != d]
        np.testing.assert_allclose(z[d][:, others], np.tile(np.clip(seed, -1, 1)[others], (10, 1)))
    # An autoencoder's codes have no bounded prior: centre +- 3 spreads.
    vae = architectures.from_config(vae_config.get_config("smoke"))
    values, z = evaluate.traversal_codes(vae, seed, spread_centre, spread, limit=3.0)
    np.testing.assert_allclose(z[1, :, 1], 0.2 + np.linspace(-3, 3, 10) * 0.5, rtol=1e-6)
    np.testing.assert_allclose(z[1, :, 0], 0.2)
