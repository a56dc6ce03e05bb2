"""Losses for autoencoders, VAEs and beta-VAEs: pure JAX functions.

Conventions (as optax's losses): predictions first, targets second,
keyword-only hyperparameters, one value per example. Log-likelihoods and KL
are in nats, summed over pixels and latent dimensions; averaging over the
batch is left to the caller, so beta keeps its meaning from Higgins et al.
(a per-pixel mean would silently rescale it).

This module imports only JAX: any JAX code can use it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


def _sum_per_example(x: jax.Array) -> jax.Array:
    """Sums all axes but the first: (B, ...) -> (B,)."""
    return jnp.sum(x.reshape(x.shape[0], -1), axis=1)


def _check_same_shape(a: jax.Array, b: jax.Array, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {a.shape} and {b.shape}")


def bernoulli_log_likelihood(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """log p(targets | logits) under independent Bernoulli pixels.

    Stable for large |logits|: uses ``t * l - softplus(l)``.

    Args:
      logits: (B, ...) decoder logits.
      targets: (B, ...) values in [0, 1], same shape.

    Returns:
      (B,) log-likelihood in nats, summed over all but the first axis.
    """
    _check_same_shape(logits, targets, "logits and targets")
    return _sum_per_example(targets * logits - jax.nn.softplus(logits))


def gaussian_log_likelihood(mean: jax.Array, targets: jax.Array, *,
                            log_scale: jax.Array | float = 0.0) -> jax.Array:
    """log N(targets; mean, exp(log_scale)^2) over independent pixels.

    With ``log_scale = 0`` this is ``-0.5 * ||targets - mean||^2`` minus a
    constant: maximising it is minimising squared error.

    Args:
      mean: (B, ...) predicted means.
      targets: (B, ...) same shape.
      log_scale: log standard deviation, broadcastable to ``mean``.

    Returns:
      (B,) log-likelihood in nats.
    """
    _check_same_shape(mean, targets, "mean and targets")
    log_scale = jnp.broadcast_to(log_scale, mean.shape)
    z = (targets - mean) * jnp.exp(-log_scale)
    return _sum_per_example(-0.5 * z ** 2 - log_scale - 0.5 * math.log(2 * math.pi))


def kl_per_dimension(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, 1)) for each latent dimension.

    ``0.5 * (mean^2 + exp(logvar) - logvar - 1)``, in closed form.

    Args:
      mean, logvar: (B, D).

    Returns:
      (B, D) KL in nats.
    """
    _check_same_shape(mean, logvar, "mean and logvar")
    return 0.5 * (mean ** 2 + jnp.exp(logvar) - logvar - 1.0)


def kl_diagonal_gaussian(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, diag(exp(logvar))) || N(0, I)).

    Args:
      mean, logvar: (B, D).

    Returns:
      (B,) KL in nats, summed over latent dimensions.
    """
    return jnp.sum(kl_per_dimension(mean, logvar), axis=-1)


def reparameterize(key: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Samples z = mean + exp(logvar / 2) * eps, eps ~ N(0, I).

    Differentiable in ``mean`` and ``logvar``.

    Args:
      key: PRNG key.
      mean, logvar: (B, D).

    Returns:
      (B, D) samples.
    """
    _check_same_shape(mean, logvar, "mean and logvar")
    eps = jax.random.normal(key, mean.shape, mean.dtype)
    return mean + jnp.exp(0.5 * logvar) * eps


class ElboTerms(NamedTuple):
    """Per-example terms of a VAE objective, in nats.

    loss: (B,) the objective to minimise.
    reconstruction: (B,) -log p(x | z).
    kl: (B,) KL(q(z|x) || p(z)).
    kl_per_dimension: (B, D).
    """

    loss: jax.Array
    reconstruction: jax.Array
    kl: jax.Array
    kl_per_dimension: jax.Array


def beta_elbo(logits: jax.Array, targets: jax.Array, mean: jax.Array,
              logvar: jax.Array, *, beta: jax.Array | float = 1.0) -> ElboTerms:
    """The beta-VAE objective of Higgins et al. (2017): rec + beta * KL.

    With beta = 1 the loss is the negative ELBO. Bernoulli decoder.

    Args:
      logits: (B, ...) decoder logits.
      targets: (B, ...) images in [0, 1].
      mean, logvar: (B, D) posterior parameters.
      beta: KL weight.

    Returns:
      ElboTerms with per-example values.
    """
    reconstruction = -bernoulli_log_likelihood(logits, targets)
    kl_dims = kl_per_dimension(mean, logvar)
    kl = jnp.sum(kl_dims, axis=-1)
    return ElboTerms(reconstruction + beta * kl, reconstruction, kl, kl_dims)


def capacity_elbo(logits: jax.Array, targets: jax.Array, mean: jax.Array,
                  logvar: jax.Array, *, gamma: jax.Array | float,
                  capacity: jax.Array | float) -> ElboTerms:
    """Capacity-annealed objective of Burgess et al. (2018): rec + gamma * |KL - C|.

    Args:
      logits: (B, ...) decoder logits.
      targets: (B, ...) images in [0, 1].
      mean, logvar: (B, D) posterior parameters.
      gamma: weight of the capacity term (1000 in the paper).
      capacity: target KL C in nats (see :func:`linear_capacity`).

    Returns:
      ElboTerms with per-example values.
    """
    reconstruction = -bernoulli_log_likelihood(logits, targets)
    kl_dims = kl_per_dimension(mean, logvar)
    kl = jnp.sum(kl_dims, axis=-1)
    return ElboTerms(reconstruction + gamma * jnp.abs(kl - capacity), reconstruction, kl,
                     kl_dims)


def linear_capacity(step: jax.Array | int, *, max_capacity: float,
                    num_steps: int) -> jax.Array:
    """C grows linearly from 0 to ``max_capacity`` nats over ``num_steps``, then stays."""
    fraction = jnp.clip(jnp.asarray(step, jnp.float32) / max(num_steps, 1), 0.0, 1.0)
    return max_capacity * fraction
