"""DC-IGN (Kulkarni et al. 2015, "Deep Convolutional Inverse Graphics Network").

Supervised by the simulator: training batches vary one factor each
(:class:`vaejax.data.pipeline.OneFactorBatches`), the latents are split into
one block per scored factor of the dataset (``config.dcign_blocks``; on
dSprites: latents for shape, scale, orientation, posX, posY; any further
latents are free and clamped in every batch), and in a batch that varies factor k every latent outside k's
block is clamped to its batch mean, with the paper's replacement gradient
(:func:`vaejax.losses.dcign_clamp`). The VAE objective otherwise (beta 1);
the representation is the encoder mean.
"""

import jax.numpy as jnp
import numpy as np

from vaejax import losses, models
from vaejax.data import datasets, pipeline
from vaejax.errors import ConfigError, DataError
from vaejax.objectives import base


def factors(config) -> tuple[str, ...]:
    """The factors with a latent block: those ``config.dataset``'s metrics score."""
    return datasets.scored_factor_names(datasets.config_dataset(config))


def latent_blocks(config) -> np.ndarray:
    """(D,) int: the index into :func:`factors` of each latent's block, -1 for a free latent."""
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
        name = datasets.config_dataset(config)
        if not datasets.has_factors(name):
            raise ConfigError(f"the dc_ign objective needs a dataset with factors; {name} has none")
        names = factors(config)
        blocks = tuple(config.get("dcign_blocks", ()))
        if (len(blocks) != len(names)
                or not all(isinstance(b, int) and not isinstance(b, bool) and b > 0
                           for b in blocks)):
            raise ConfigError(f"config.dcign_blocks must give {len(names)} positive latent "
                              f"counts, one per factor {names} of {name}, got {blocks}")
        if sum(blocks) > config.latents:
            raise ConfigError(f"config.dcign_blocks {blocks} need {sum(blocks)} latents, "
                              f"more than config.latents = {config.latents}")
        if config.corruption != "none":
            raise ConfigError("the dc_ign objective takes no config.corruption, "
                              f"got {config.corruption!r}")

    def batches(self, data, **kwargs):
        missing = data.missing_message()
        if missing:
            raise DataError(f"the dc_ign objective draws any factor combination: {missing}")
        return pipeline.OneFactorBatches(data, **kwargs)

    def loss(self, params, extra_params, model, config, images, key, step):
        mean, logvar = model.apply({"params": params}, images, method=_encode)
        z = losses.reparameterize(key, mean, logvar)
        active = jnp.asarray(latent_blocks(config)) == pipeline.varied_factor(
            step, len(factors(config)))
        clamped, invariance = losses.dcign_clamp(z, active)
        logits = model.apply({"params": params}, clamped, method=models.Autoencoder.decode)
        terms = losses.beta_elbo(logits, images, mean, logvar, beta=config.beta,
                                 likelihood=config.likelihood)
        loss, metrics = base.elbo_metrics(terms, invariance=jnp.mean(invariance))
        loss = loss + metrics["invariance"]
        metrics["loss"] = loss
        return loss, metrics


OBJECTIVE = DCIGN()
