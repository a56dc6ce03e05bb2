"""Input corruptions for the denoising autoencoder: pure functions of (key, images)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must lie in [0, 1], got {rate}")


def masking_noise(key: jax.Array, images: jax.Array, *, rate: float) -> jax.Array:
    """Sets each pixel to 0 with probability ``rate``.

    Args:
      key: a typed PRNG key.
      images: float array of any shape, e.g. (B, 64, 64, 1), values in [0, 1].
      rate: probability that a pixel is masked.

    Returns:
      Corrupted images, same shape and dtype.
    """
    _check_rate(rate)
    keep = jax.random.bernoulli(key, 1.0 - rate, images.shape)
    return jnp.where(keep, images, jnp.zeros_like(images))


def salt_and_pepper(key: jax.Array, images: jax.Array, *, rate: float) -> jax.Array:
    """Sets each pixel, with probability ``rate``, to 0 or 1 with equal odds.

    Args:
      key: a typed PRNG key.
      images: float array of any shape, e.g. (B, 64, 64, 1), values in [0, 1].
      rate: probability that a pixel is replaced.

    Returns:
      Corrupted images, same shape and dtype.
    """
    _check_rate(rate)
    hit_key, salt_key = jax.random.split(key)
    hit = jax.random.bernoulli(hit_key, rate, images.shape)
    salt = jax.random.bernoulli(salt_key, 0.5, images.shape).astype(images.dtype)
    return jnp.where(hit, salt, images)
