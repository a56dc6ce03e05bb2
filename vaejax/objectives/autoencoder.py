"""A deterministic autoencoder's reconstruction loss (plain, convolutional, denoising)."""

import jax.numpy as jnp

from vaejax import losses
from vaejax.objectives import base


class Autoencoder(base.Objective):
    """-log p(x | decoder(encoder(x~))), x~ the corrupted input: Bernoulli, or
    squared error (-log N(x; mean, 1) without its constant)."""

    name = "autoencoder"
    variational = False

    def loss(self, params, extra_params, model, config, images, key, step):
        out = base.forward(params, model, config, images, key)
        if config.likelihood == "bernoulli":
            rec = -losses.bernoulli_log_likelihood(out["logits"], images)
        else:
            rec = 0.5 * jnp.sum(jnp.square(out["logits"] - images), axis=(1, 2, 3))
        loss = jnp.mean(rec)
        return loss, dict(loss=loss, reconstruction=loss)


OBJECTIVE = Autoencoder()
