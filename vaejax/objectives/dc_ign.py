"""DC-IGN (Kulkarni et al. 2015, "Deep Convolutional Inverse Graphics Network").

Supervised by the simulator: training batches vary one factor each
(:class:`vaejax.data.pipeline.OneFactorBatches`), the latents are split into
one block per varying factor (``config.dcign_blocks``: latents for shape,
scale, orientation, posX, posY; any further latents are free and clamped in
every batch), and in a batch that varies factor k every latent outside k's
block is clamped to its batch mean, with the paper's replacement gradient
(:func:`vaejax.losses.dcign_clamp`). The VAE objective otherwise (beta 1);
the representation is the encoder mean.
"""

import jax.numpy as jnp
import numpy as np

from vaejax import losses, models
from vaejax.data import pipeline
from vaejax.errors import ConfigError
from vaejax.objectives import base

FACTORS = tuple(pipeline.GroundTruth.factor_names[i] for i in pipeline.GroundTruth.varying_factors)


def latent_blocks(config) -> np.ndarray:
    """(D,) int: the index into ``FACTORS`` of each latent's block, -1 for a free latent."""
    owner = np.full(config.latents, -1, np.int32)
    start = 0
    for k, size in enumerate(config.dcign_blocks):
        owner[start:start + size] = k
        start += size
    return owner


def _encode(module, x):
    return module.encoder(x)


class DCIGN(base.Objective):
    name = "dc_ign"

    def validate(self, config) -> None:
        blocks = tuple(config.get("dcign_blocks", ()))
        if (len(blocks) != len(FACTORS)
                or not all(isinstance(b, int) and not isinstance(b, bool) and b > 0
                           for b in blocks)):
            raise ConfigError(f"config.dcign_blocks must give {len(FACTORS)} positive latent "
                              f"counts, one per factor {FACTORS}, got {blocks}")
        if sum(blocks) > config.latents:
            raise ConfigError(f"config.dcign_blocks {blocks} need {sum(blocks)} latents, "
                              f"more than config.latents = {config.latents}")
        if config.corruption != "none":
            raise ConfigError("the dc_ign objective takes no config.corruption, "
                              f"got {config.corruption!r}")

    def batches(self, data, **kwargs):
        return pipeline.OneFactorBatches(data, **kwargs)

    def loss(self, params, extra_params, model, config, images, key, step):
        mean, logvar = model.apply({"params": params}, images, method=_encode)
        z = losses.reparameterize(key, mean, logvar)
        active = jnp.asarray(latent_blocks(config)) == pipeline.varied_factor(step)
        clamped, invariance = losses.dcign_clamp(z, active)
        logits = model.apply({"params": params}, clamped, method=models.Autoencoder.decode)
        terms = losses.beta_elbo(logits, images, mean, logvar, beta=config.beta)
        loss, metrics = base.elbo_metrics(terms, invariance=jnp.mean(invariance))
        loss = loss + metrics["invariance"]
        metrics["loss"] = loss
        return loss, metrics


OBJECTIVE = DCIGN()
