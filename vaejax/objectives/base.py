"""The interface every training objective implements, and what the VAE family shares.

An objective is an object with:

* ``name``: the value of ``config.objective`` that selects it;
* ``validate(config)``: raises ConfigError naming a field it cannot use;
* ``init_state(config, key)``: the extra train state it owns (a pytree with
  a ``params`` entry and whatever updates them, e.g. FactorVAE's
  discriminator and its optimizer state), or None;
* ``loss(params, extra_params, model, config, images, key, step)``: the
  batch's mean loss and a dict of metrics; with extra state, the loss is
  arranged so that its gradient with respect to ``params`` is the model's
  and with respect to ``extra_params`` (``extra["params"]``) the extra
  networks' own;
* ``update_state(config, extra, grads)``: the extra state after one step
  with those gradients;
* ``batches(data, **kwargs)``: the training batches of a dataset
  (:class:`vaejax.data.ground_truth.Dataset`; ``kwargs`` as
  :class:`vaejax.data.pipeline.ShuffledBatches`); shuffled images unless the
  objective needs others (DC-IGN's one-factor batches);
* ``optimizer(config)``: the optimizer of ``params``, or None for the one
  ``config.optimizer`` names (InfoGAN's: one Adam per network);
* ``train_update(config, model, tx, state, images, key)``: one step, the
  new ``TrainState`` and the metrics; by default one backward pass through
  ``loss`` (InfoGAN alternates a discriminator and a generator update);
* ``architectures``: the ``config.architecture`` values it trains;
* ``representation(model, params)``: what evaluation scores, images
  (N, H, W, C) -> codes (N, D); the encoder mean unless it says otherwise;
* ``state_name`` (the extra state's key in a checkpoint), ``checked_metrics``
  (the metrics a run stops on when not finite), ``uses_prior`` (whether
  ``config.prior`` applies) and ``variational`` (the encoder outputs a
  mean and log-variance).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from vaejax import models, options
from vaejax.data import corruptions, pipeline


def ramp(value, warmup, step):
    """``value`` ramped linearly from 0 over ``warmup`` steps (at once when 0)."""
    if not warmup:
        return jnp.float32(value)
    return value * jnp.clip(step.astype(jnp.float32) / warmup, 0.0, 1.0)


def option(config, field):
    """``config.field``, or its default (``vaejax.options.DEFAULTS``) when absent."""
    return options.get(config, field)


def corrupt(config, key, images):
    """The model's input: ``images`` with ``config.corruption`` applied (denoising)."""
    if config.corruption == "masking":
        return corruptions.masking_noise(key, images, rate=config.corruption_rate)
    if config.corruption == "salt_and_pepper":
        return corruptions.salt_and_pepper(key, images, rate=config.corruption_rate)
    return images


def forward(params, model, config, images, key) -> dict:
    """The model on the (corrupted) batch: ``logits`` and, for a VAE, ``mean``,
    ``logvar`` and the sampled ``z``."""
    sample_key, corrupt_key = jax.random.split(key)
    return model.apply({"params": params}, corrupt(config, corrupt_key, images), sample_key)


def elbo_metrics(terms, **extra) -> tuple[jax.Array, dict]:
    """(mean loss, metrics) from per-example ``losses`` terms of the VAE family."""
    loss = jnp.mean(terms.loss)
    return loss, dict(loss=loss, reconstruction=jnp.mean(terms.reconstruction),
                      kl=jnp.mean(terms.kl), kl_per_dim=jnp.mean(terms.kl_per_dimension, axis=0),
                      **extra)


class Objective:
    """Defaults: no extra state, the encoder mean as the representation."""

    name = ""
    uses_prior = False
    variational = True
    state_name: str | None = None
    checked_metrics: tuple[str, ...] = ("loss",)
    architectures: tuple[str, ...] = models.AUTOENCODER_ARCHITECTURES

    def validate(self, config) -> None:
        """Raises ConfigError for a config this objective cannot train."""

    def init_state(self, config, key) -> Any:
        return None

    def loss(self, params, extra_params, model, config, images, key, step):
        raise NotImplementedError

    def update_state(self, config, extra, grads):
        return extra

    def optimizer(self, config) -> optax.GradientTransformation | None:
        return None

    def train_update(self, config, model, tx, state, images, key):
        """One step: the gradient of :meth:`loss` (with extra state, one backward
        pass gives both parts' gradients), ``tx`` on ``params``."""
        extra = state.extra
        if extra is None:
            grads, metrics = jax.grad(
                lambda p: self.loss(p, None, model, config, images, key, state.step),
                has_aux=True)(state.params)
        else:
            (grads, e_grads), metrics = jax.grad(
                lambda p, e: self.loss(p, e, model, config, images, key, state.step),
                argnums=(0, 1), has_aux=True)(state.params, extra["params"])
            extra = self.update_state(config, extra, e_grads)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                             extra=extra), metrics

    def batches(self, data, **kwargs):
        return pipeline.ShuffledBatches(data, **kwargs)

    def representation(self, model, params):
        return models.encoder_representation(model, params)

    def __repr__(self) -> str:
        return f"<objective {self.name}>"
