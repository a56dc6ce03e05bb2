import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from math import gamma as gamma_fn

from vaejax import losses


def test_import_needs_no_flax_optax_or_tfds():
    code = ("import sys, vaejax.losses; "
            "bad = [m for m in ('flax', 'optax', 'tensorflow_datasets', 'tensorflow') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kl_known_values():
    mean = jnp.array([[0.0, 1.0, 2.0]])
    logvar = jnp.array([[0.0, 0.0, jnp.log(4.0)]])
    # 0.5 * (mu^2 + s^2 - log s^2 - 1): 0, 0.5, 0.5 * (4 + 4 - log 4 - 1)
    expected = np.array([[0.0, 0.5, 0.5 * (7 - np.log(4.0))]])
    np.testing.assert_allclose(losses.kl_per_dimension(mean, logvar), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.kl_diagonal_gaussian(mean, logvar), expected.sum(1), rtol=1e-6)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zeros = jnp.zeros((4, 10))
    np.testing.assert_allclose(losses.kl_diagonal_gaussian(zeros, zeros), 0.0, atol=1e-7)
    rng = np.random.default_rng(0)
    mean, logvar = rng.normal(size=(2, 100, 10)).astype(np.float32)
    assert (losses.kl_diagonal_gaussian(mean, logvar) > 0).all()


def test_kl_matches_monte_carlo():
    mean = jnp.array([[0.5, -1.0, 0.0]])
    logvar = jnp.array([[-1.0, 0.5, 1.2]])
    z = losses.reparameterize(jax.random.key(0), jnp.repeat(mean, 400_000, 0),
                              jnp.repeat(logvar, 400_000, 0))
    sd = np.exp(0.5 * np.asarray(logvar))
    log_q = -0.5 * ((z - mean) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
    log_p = -0.5 * z ** 2 - 0.5 * np.log(2 * np.pi)
    mc = np.mean(np.sum(log_q - log_p, axis=1))
    assert mc == pytest.approx(float(losses.kl_diagonal_gaussian(mean, logvar)[0]), abs=0.01)


@pytest.mark.parametrize("prior", ["laplace", "gennorm4"])
def test_non_gaussian_prior_kl_matches_monte_carlo_and_its_minimum(prior):
    from scipy import stats

    # Unit-variance priors: Laplace(b = 1/sqrt 2); generalised normal, shape 4.
    density = dict(laplace=stats.laplace(scale=1 / np.sqrt(2)),
                   gennorm4=stats.gennorm(4, scale=np.sqrt(gamma_fn(0.25) / gamma_fn(0.75))))[prior]
    assert density.var() == pytest.approx(1.0)
    mean = jnp.array([[0.5, -1.0, 0.0, 3.0]])
    logvar = jnp.array([[-1.0, 0.5, 1.2, -4.0]])
    z = losses.reparameterize(jax.random.key(0), jnp.repeat(mean, 400_000, 0),
                              jnp.repeat(logvar, 400_000, 0))
    sd = np.exp(0.5 * np.asarray(logvar))
    log_q = -0.5 * ((z - mean) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
    mc = np.mean(log_q - density.logpdf(np.asarray(z)), axis=0)
    kl_dims = losses.prior_kl_per_dimension(mean, logvar, prior=prior)
    np.testing.assert_allclose(kl_dims[0], mc, rtol=0.01, atol=0.01)
    # At the minimum over (mean, var) the gradient is zero and the KL is the
    # smallest value a scan over the posterior finds.
    kl = lambda m, lv: losses.prior_kl_per_dimension(m, lv, prior=prior).sum()
    grid = jnp.linspace(-3.0, 1.0, 4001)[None]
    best = jnp.argmin(losses.prior_kl_per_dimension(jnp.zeros_like(grid), grid, prior=prior))
    m0, lv0 = jnp.zeros((1, 1)), grid[:, best][None]
    for g in jax.grad(kl, argnums=(0, 1))(m0, lv0):
        assert abs(float(g[0, 0])) < 1e-3
    if prior == "laplace":  # var pi / 4, KL 0.5 - log(pi / 2)
        assert float(jnp.exp(lv0[0, 0])) == pytest.approx(np.pi / 4, rel=1e-3)
        assert float(kl(m0, lv0)) == pytest.approx(0.5 - np.log(np.pi / 2), abs=1e-6)
    assert 0 < float(kl(m0, lv0)) < 0.1  # an unused latent counts as inactive
    # Finite with finite gradients at a near-point posterior far out.
    m, lv = jnp.array([[40.0, -40.0]]), jnp.array([[-30.0, -30.0]])
    assert np.isfinite(float(kl(m, lv)))
    assert np.isfinite(np.asarray(jax.grad(kl, argnums=(0, 1))(m, lv))).all()


def test_non_gaussian_priors_tell_axes_from_rotations_the_gaussian_does_not():
    # Tight posteriors around codes with independent unit-variance coordinates,
    # and the same codes rotated by 45 degrees (uncorrelated, unit variance).
    rng = np.random.default_rng(0)
    laplace_codes = rng.laplace(scale=1 / np.sqrt(2), size=(200_000, 2))
    uniform_codes = rng.uniform(-np.sqrt(3), np.sqrt(3), size=(200_000, 2))
    c = np.sqrt(0.5)
    rotation = np.array([[c, -c], [c, c]])

    def rotation_cost(prior, codes):
        """Mean KL of the rotated codes minus that of the axis-aligned ones."""
        logvar = jnp.full(codes.shape, -6.0)
        kl = [float(losses.prior_kl_per_dimension(jnp.asarray(m, jnp.float32), logvar,
                                                  prior=prior).sum(1).mean())
              for m in (codes @ rotation, codes)]
        return kl[0] - kl[1]

    for codes in (laplace_codes, uniform_codes):
        assert rotation_cost("gaussian", codes) == pytest.approx(0.0, abs=1e-3)
    # Laplace codes: E(|a| + |b|) / b0 = 2 on the axes, sqrt 2 E max(|a|, |b|) / b0 = 2.12 rotated.
    assert rotation_cost("laplace", laplace_codes) == pytest.approx(1.5 * np.sqrt(2) - 2, abs=0.02)
    # Uniform codes (flat, as dSprites' positions): the flat prior keeps the
    # axes; the peaked Laplace prior prefers the rotation (ICA's kurtosis sign).
    assert rotation_cost("gennorm4", uniform_codes) > 0.1
    assert rotation_cost("laplace", uniform_codes) < -0.1
    with pytest.raises(ValueError, match="prior must be one of"):
        losses.prior_kl_per_dimension(jnp.zeros((1, 2)), jnp.zeros((1, 2)), prior="cauchy")


def test_bernoulli_matches_direct_formula():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 4, 4, 1)).astype(np.float64) * 3
    targets = rng.integers(0, 2, size=logits.shape).astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    direct = np.sum(targets * np.log(p) + (1 - targets) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(jnp.asarray(logits, jnp.float32),
                                                               jnp.asarray(targets, jnp.float32)),
                               direct, rtol=1e-5)


def test_bernoulli_is_finite_at_extreme_logits():
    logits = jnp.array([[100.0, -100.0, 100.0, -100.0]])
    targets = jnp.array([[1.0, 0.0, 0.0, 1.0]])
    ll = losses.bernoulli_log_likelihood(logits, targets)
    assert np.isfinite(ll).all()
    np.testing.assert_allclose(ll, [-200.0], rtol=1e-6)  # two confident mistakes
    grad = jax.grad(lambda l: losses.bernoulli_log_likelihood(l, targets).sum())(logits)
    assert np.isfinite(grad).all()


def test_bernoulli_value_and_derivatives_match_closed_forms():
    # Logits over the whole float32 range that matters, fractional targets too.
    rng = np.random.default_rng(2)
    logits = np.concatenate([rng.normal(size=60) * 4, [-90.0, -30.0, -17.0, 0.0, 17.0, 30.0, 90.0],
                             rng.normal(size=5) * 1e-4]).reshape(3, 24).astype(np.float32)
    targets = rng.uniform(size=logits.shape).astype(np.float32)
    targets[0] = np.round(targets[0])
    l64, t64 = logits.astype(np.float64), targets.astype(np.float64)
    exact = np.sum(t64 * l64 - np.logaddexp(0.0, l64), axis=1)
    ll = losses.bernoulli_log_likelihood(jnp.asarray(logits), jnp.asarray(targets))
    np.testing.assert_allclose(ll, exact, rtol=1e-6, atol=2e-5)
    sigmoid = 1 / (1 + np.exp(-l64))
    weights = np.array([1.0, -2.0, 0.5])
    g_logits, g_targets = jax.grad(
        lambda l, t: jnp.dot(losses.bernoulli_log_likelihood(l, t), weights), argnums=(0, 1))(
            jnp.asarray(logits), jnp.asarray(targets))
    np.testing.assert_allclose(g_logits, weights[:, None] * (t64 - sigmoid), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g_targets, weights[:, None] * l64, rtol=1e-6)
    # Forward mode gives the same directional derivative as reverse mode.
    direction = rng.normal(size=logits.shape).astype(np.float32)
    _, jvp = jax.jvp(lambda l: losses.bernoulli_log_likelihood(l, jnp.asarray(targets)),
                     (jnp.asarray(logits),), (jnp.asarray(direction),))
    np.testing.assert_allclose(jvp, np.sum((t64 - sigmoid) * direction, axis=1), rtol=1e-5,
                               atol=1e-5)
    # Integer targets (uint8 pixels) give the same value and gradient.
    binary = targets[:1]
    for dtype in (jnp.uint8, jnp.int32, jnp.bool_):
        as_int = jnp.asarray(binary, dtype)
        np.testing.assert_allclose(losses.bernoulli_log_likelihood(jnp.asarray(logits[:1]), as_int),
                                   ll[:1], rtol=1e-6)
        np.testing.assert_allclose(
            jax.grad(lambda l: losses.bernoulli_log_likelihood(l, as_int).sum())(
                jnp.asarray(logits[:1])), g_logits[:1] / weights[0], rtol=1e-6)
    # Second derivative: -sigmoid(l) (1 - sigmoid(l)) on the diagonal.
    hess_diag = jax.grad(lambda l: jax.grad(
        lambda l_: losses.bernoulli_log_likelihood(l_, jnp.asarray(targets)).sum())(l).sum())(
            jnp.asarray(logits))
    np.testing.assert_allclose(hess_diag, -sigmoid * (1 - sigmoid), rtol=1e-5, atol=1e-7)


def test_gaussian_log_likelihood():
    mean = jnp.array([[0.0, 1.0]])
    x = jnp.array([[1.0, 1.0]])
    expected = -0.5 * 1.0 - 2 * 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(losses.gaussian_log_likelihood(mean, x), [expected], rtol=1e-6)
    ls = np.log(2.0)
    expected = -0.5 * 0.25 - 2 * (ls + 0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(losses.gaussian_log_likelihood(mean, x, log_scale=ls), [expected],
                               rtol=1e-6)


def test_reparameterize_statistics_and_gradients():
    mean = jnp.full((200_000, 2), jnp.array([1.0, -2.0]))
    logvar = jnp.full((200_000, 2), jnp.array([0.0, jnp.log(0.25)]))
    z = losses.reparameterize(jax.random.key(3), mean, logvar)
    np.testing.assert_allclose(z.mean(0), [1.0, -2.0], atol=0.01)
    np.testing.assert_allclose(z.std(0), [1.0, 0.5], rtol=0.01)
    m, lv = jnp.array([[0.3]]), jnp.array([[0.4]])
    key = jax.random.key(4)
    eps = (losses.reparameterize(key, m, lv) - m) / jnp.exp(0.5 * lv)
    g_mean, g_logvar = jax.grad(lambda a, b: losses.reparameterize(key, a, b).sum(),
                                argnums=(0, 1))(m, lv)
    np.testing.assert_allclose(g_mean, 1.0)
    np.testing.assert_allclose(g_logvar, 0.5 * jnp.exp(0.5 * lv) * eps, rtol=1e-6)


def _vae_inputs(seed=0, batch=4, dims=5):
    rng = np.random.default_rng(seed)
    logits = jnp.asarray(rng.normal(size=(batch, 8, 8, 1)), jnp.float32)
    targets = jnp.asarray(rng.integers(0, 2, size=(batch, 8, 8, 1)), jnp.float32)
    mean = jnp.asarray(rng.normal(size=(batch, dims)), jnp.float32)
    logvar = jnp.asarray(rng.normal(size=(batch, dims)) * 0.3, jnp.float32)
    return logits, targets, mean, logvar


def test_beta_one_is_the_negative_elbo():
    logits, targets, mean, logvar = _vae_inputs()
    terms = losses.beta_elbo(logits, targets, mean, logvar, beta=1.0)
    p = jax.nn.sigmoid(logits)
    log_px = jnp.sum(targets * jnp.log(p) + (1 - targets) * jnp.log1p(-p), axis=(1, 2, 3))
    var = jnp.exp(logvar)
    kl = 0.5 * jnp.sum(mean ** 2 + var - logvar - 1, axis=1)
    np.testing.assert_allclose(terms.loss, -(log_px - kl), rtol=1e-5)
    beta4 = losses.beta_elbo(logits, targets, mean, logvar, beta=4.0)
    np.testing.assert_allclose(beta4.loss, terms.reconstruction + 4 * terms.kl, rtol=1e-6)
    np.testing.assert_allclose(terms.kl_per_dimension.sum(1), terms.kl, rtol=1e-6)
    assert terms.kl_per_dimension.shape == (4, 5)
    laplace = losses.beta_elbo(logits, targets, mean, logvar, beta=4.0, prior="laplace")
    np.testing.assert_allclose(laplace.kl_per_dimension,
                               losses.kl_per_dimension_laplace(mean, logvar), rtol=1e-6)
    np.testing.assert_allclose(laplace.loss, terms.reconstruction + 4 * laplace.kl, rtol=1e-6)


def test_capacity_objective_and_schedule():
    logits, targets, mean, logvar = _vae_inputs(1)
    terms = losses.capacity_elbo(logits, targets, mean, logvar, gamma=1000.0, capacity=3.0)
    np.testing.assert_allclose(terms.loss, terms.reconstruction + 1000 * jnp.abs(terms.kl - 3.0),
                               rtol=1e-6)
    sched = [float(losses.linear_capacity(s, max_capacity=25.0, num_steps=100))
             for s in (0, 50, 100, 200)]
    assert sched == pytest.approx([0.0, 12.5, 25.0, 25.0])


def test_losses_under_jit_vmap_and_grad():
    logits, targets, mean, logvar = _vae_inputs(2)
    f = lambda *a: losses.beta_elbo(*a, beta=4.0).loss
    np.testing.assert_allclose(jax.jit(f)(logits, targets, mean, logvar),
                               f(logits, targets, mean, logvar), rtol=1e-6)
    # vmap over the batch of single-example batches gives the same values.
    single = lambda l, t, m, v: f(l[None], t[None], m[None], v[None])[0]
    np.testing.assert_allclose(jax.vmap(single)(logits, targets, mean, logvar),
                               f(logits, targets, mean, logvar), rtol=1e-5)
    grads = jax.grad(lambda *a: f(*a).sum(), argnums=(0, 2, 3))(logits, targets, mean, logvar)
    # d KL / d mean = beta * mean.
    np.testing.assert_allclose(grads[1], 4.0 * mean, rtol=1e-5)
    for g in grads:
        assert np.isfinite(g).all()
    g = jax.grad(lambda m: losses.gaussian_log_likelihood(m, targets).sum())(logits)
    np.testing.assert_allclose(g, targets - logits, rtol=1e-5)


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match="logits and targets"):
        losses.bernoulli_log_likelihood(jnp.zeros((2, 3)), jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="mean and logvar"):
        losses.kl_diagonal_gaussian(jnp.zeros((2, 3)), jnp.zeros((2, 4)))


def _exact_log_aggregate(z, mean, logvar):
    """log q(z) and log q_d(z_d), q = (1/N) sum_n q(.|x_n), by explicit sums (scipy)."""
    from scipy.stats import norm

    n, d = mean.shape
    std = np.exp(0.5 * np.asarray(logvar, np.float64))
    log_qz, log_qd = np.zeros(len(z)), np.zeros((len(z), d))
    for i, zi in enumerate(np.asarray(z, np.float64)):
        dens = norm.pdf(zi[None, :], loc=np.asarray(mean, np.float64), scale=std)  # (N, D)
        log_qz[i] = np.log(np.mean(np.prod(dens, axis=1)))
        log_qd[i] = np.log(np.mean(dens, axis=0))
    return log_qz, log_qd


def test_aggregate_posterior_is_exact_when_the_batch_is_the_whole_set():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(7, 3)).astype(np.float32)
    logvar = (rng.normal(size=(7, 3)) * 0.3 - 1).astype(np.float32)
    z = mean + np.exp(0.5 * logvar) * rng.normal(size=(7, 3)).astype(np.float32)
    log_qz, log_qd = losses.aggregate_posterior_log_density(z, mean, logvar, dataset_size=7)
    exact_qz, exact_qd = _exact_log_aggregate(z, mean, logvar)
    np.testing.assert_allclose(log_qz, exact_qz, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_qd, exact_qd, rtol=1e-5, atol=1e-5)
    tc = losses.total_correlation(z, mean, logvar, dataset_size=7)
    np.testing.assert_allclose(tc, exact_qz - exact_qd.sum(1), rtol=1e-4, atol=1e-4)


def test_stratified_estimate_of_q_is_unbiased_over_batches():
    # For an anchor x_0 and every batch of it with 2 of the other 5 examples, the
    # average of the estimated q(z_0) equals the exact q(z_0) over all 6.
    import itertools

    rng = np.random.default_rng(1)
    mean = rng.normal(size=(6, 2)).astype(np.float32)
    logvar = (rng.normal(size=(6, 2)) * 0.3).astype(np.float32)
    z0 = mean[0] + 0.5
    estimates = []
    for others in itertools.combinations(range(1, 6), 2):
        idx = [0, *others]
        z = np.stack([z0, mean[others[0]], mean[others[1]]])  # rows 1, 2 unused here
        log_qz, _ = losses.aggregate_posterior_log_density(z, mean[idx], logvar[idx],
                                                           dataset_size=6)
        estimates.append(np.exp(float(log_qz[0])))
    exact, _ = _exact_log_aggregate(z0[None], mean, logvar)
    assert np.mean(estimates) == pytest.approx(np.exp(exact[0]), rel=1e-5)
    assert np.std(estimates) > 1e-4 * np.mean(estimates)  # single batches do differ


def test_total_correlation_known_cases():
    # Means on a 4 x 4 product grid with equal variances: q(z) factorises, TC = 0.
    grid = np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0) * 2, indexing="ij"), -1)
    mean = grid.reshape(16, 2).astype(np.float32)
    logvar = np.full((16, 2), -2.0, np.float32)
    rng = np.random.default_rng(2)
    z = mean + 0.37 * rng.normal(size=(16, 2)).astype(np.float32)
    tc = losses.total_correlation(z, mean, logvar, dataset_size=16)
    np.testing.assert_allclose(tc, 0.0, atol=2e-5)
    # The same 16 points on the diagonal (z_1 = z_2): strongly dependent.
    diag = np.repeat(np.arange(16.0)[:, None], 2, 1).astype(np.float32)
    tc_diag = losses.total_correlation(diag + z - mean, diag, logvar, dataset_size=16)
    assert float(jnp.mean(tc_diag)) > 2.0
    # M identical posteriors: stratified TC = 0; MWS = (D - 1) log N exactly.
    same_mean, same_logvar = np.zeros((5, 4), np.float32), np.zeros((5, 4), np.float32)
    zs = rng.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(
        losses.total_correlation(zs, same_mean, same_logvar, dataset_size=1000), 0.0, atol=1e-5)
    np.testing.assert_allclose(
        losses.total_correlation(zs, same_mean, same_logvar, dataset_size=1000, estimator="mws"),
        3 * np.log(1000.0), rtol=1e-5)


def test_index_code_mutual_information():
    # Batch = whole data set: log q(z_i | x_i) minus the exact log q(z_i).
    from scipy.stats import norm

    rng = np.random.default_rng(4)
    mean = rng.normal(size=(7, 3)).astype(np.float32)
    logvar = (rng.normal(size=(7, 3)) * 0.3 - 1).astype(np.float32)
    z = mean + np.exp(0.5 * logvar) * rng.normal(size=(7, 3)).astype(np.float32)
    exact_qz, _ = _exact_log_aggregate(z, mean, logvar)
    own = norm.logpdf(z, loc=mean, scale=np.exp(0.5 * logvar)).sum(1)
    mi = losses.index_code_mutual_information(z, mean, logvar, dataset_size=7)
    np.testing.assert_allclose(mi, own - exact_qz, rtol=1e-4, atol=1e-4)
    # Posteriors that ignore x carry no information: 0 exactly (stratified).
    same = np.zeros((5, 4), np.float32)
    zs = rng.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(losses.index_code_mutual_information(
        zs, same, same, dataset_size=1000), 0.0, atol=1e-5)
    # Far-apart sharp posteriors over the whole set: I(x; z) = log N.
    far = np.arange(8.0, dtype=np.float32)[:, None] * 100 * np.ones((1, 2), np.float32)
    sharp = np.full((8, 2), -4.0, np.float32)
    np.testing.assert_allclose(losses.index_code_mutual_information(
        far, far, sharp, dataset_size=8), np.log(8.0), rtol=1e-5)


def test_beta_tc_elbo_mi_weight():
    logits, targets, mean, logvar = _vae_inputs(5)
    z = losses.reparameterize(jax.random.key(1), mean, logvar)
    kwargs = dict(beta=6.0, dataset_size=100)
    base = losses.beta_tc_elbo(logits, targets, mean, logvar, z, **kwargs)
    half = losses.beta_tc_elbo(logits, targets, mean, logvar, z, mi_weight=0.5, **kwargs)
    mi = losses.index_code_mutual_information(z, mean, logvar, dataset_size=100)
    np.testing.assert_allclose(half.loss, base.loss - 0.5 * mi, rtol=1e-5)
    np.testing.assert_allclose(half.kl, base.kl)


def test_beta_tc_elbo():
    logits, targets, mean, logvar = _vae_inputs(3)
    z = losses.reparameterize(jax.random.key(0), mean, logvar)
    one = losses.beta_tc_elbo(logits, targets, mean, logvar, z, beta=1.0, dataset_size=100)
    elbo = losses.beta_elbo(logits, targets, mean, logvar, beta=1.0)
    np.testing.assert_allclose(one.loss, elbo.loss, rtol=1e-6)
    six = losses.beta_tc_elbo(logits, targets, mean, logvar, z, beta=6.0, dataset_size=100)
    np.testing.assert_allclose(six.loss, elbo.loss + 5 * six.total_correlation, rtol=1e-5)
    grads = jax.jit(jax.grad(lambda m: jnp.mean(losses.beta_tc_elbo(
        logits, targets, m, logvar, losses.reparameterize(jax.random.key(0), m, logvar),
        beta=6.0, dataset_size=100).loss)))(mean)
    assert grads.shape == mean.shape and bool(jnp.all(jnp.isfinite(grads)))
    # Another prior changes the KL term only; the TC is q(z)'s.
    flat = losses.beta_tc_elbo(logits, targets, mean, logvar, z, beta=6.0, dataset_size=100,
                               prior="gennorm4")
    np.testing.assert_allclose(flat.kl_per_dimension,
                               losses.kl_per_dimension_gennorm4(mean, logvar), rtol=1e-6)
    np.testing.assert_allclose(flat.total_correlation, six.total_correlation, rtol=1e-6)
    np.testing.assert_allclose(flat.loss, six.loss - six.kl + flat.kl, rtol=1e-5)


def test_total_correlation_errors():
    x = jnp.zeros((4, 3))
    with pytest.raises(ValueError, match="estimator"):
        losses.total_correlation(x, x, x, dataset_size=10, estimator="mss")
    with pytest.raises(ValueError, match="at least 2"):
        losses.total_correlation(x[:1], x[:1], x[:1], dataset_size=10)
    with pytest.raises(ValueError, match="dataset_size"):
        losses.total_correlation(x, x, x, dataset_size=3)
    with pytest.raises(ValueError, match="z and mean"):
        losses.total_correlation(x[:, :2], x, x, dataset_size=10)


def test_gaussian_reconstruction_is_disentanglement_libs_l2_loss():
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(size=(3, 4, 4, 3)), jnp.float32)
    targets = jnp.asarray(rng.random((3, 4, 4, 3)), jnp.float32)
    want = np.sum((1 / (1 + np.exp(-np.asarray(logits))) - np.asarray(targets)) ** 2,
                  axis=(1, 2, 3))
    got = losses.reconstruction_nll(logits, targets, likelihood="gaussian")
    np.testing.assert_allclose(got, want, rtol=1e-5)
    terms = losses.beta_elbo(logits, targets, jnp.zeros((3, 2)), jnp.zeros((3, 2)), beta=4.0,
                             likelihood="gaussian")
    np.testing.assert_allclose(terms.reconstruction, want, rtol=1e-5)
    np.testing.assert_allclose(losses.reconstruction_nll(logits, targets),
                               -losses.bernoulli_log_likelihood(logits, targets))
    with pytest.raises(ValueError, match="likelihood must be one of"):
        losses.reconstruction_nll(logits, targets, likelihood="poisson")
