"""beta-TCVAE (Chen et al. 2018): rec + KL + (beta - 1) TC + (alpha - 1) MI.

TC and MI are estimated from the minibatch; the estimate's N is
``config.dataset_size``, or with 0 the dataset's own size (its release's:
737,280 for dSprites and its variants, 480,000 for Shapes3D, ...).
"""

import jax.numpy as jnp

from vaejax import losses
from vaejax.data import datasets
from vaejax.errors import ConfigError
from vaejax.objectives import base


def dataset_size(config) -> int:
    """N of the aggregate posterior: ``config.dataset_size``, or (0) the dataset's size."""
    size = int(config.get("dataset_size", 0))
    if size:
        return size
    name = datasets.config_dataset(config)
    size = datasets.dataset_class(name).num_images
    if not size:
        raise ConfigError(f"the beta_tcvae objective needs config.dataset_size (the number of "
                          f"training images) for the {name} dataset, whose size varies")
    return size


class BetaTCVAE(base.Objective):
    name = "beta_tcvae"
    uses_prior = True

    def validate(self, config) -> None:
        size = dataset_size(config)
        if not (config.batch_size >= 2 and size >= config.batch_size):
            raise ConfigError("the beta_tcvae objective needs config.batch_size >= 2 and "
                              "config.dataset_size (the training set's size) >= the batch "
                              f"size, got {config.batch_size} and {size}")
        mi_weight = base.option(config, "mi_weight")
        if not mi_weight >= 0:
            raise ConfigError("config.mi_weight (the index-code MI weight, alpha) must be >= 0, "
                              f"got {mi_weight}")

    def loss(self, params, extra_params, model, config, images, key, step):
        out = base.forward(params, model, config, images, key)
        # The TC weight ramps from 1 (the plain ELBO) to beta.
        beta = 1.0 + base.ramp(config.beta - 1.0, base.option(config, "beta_warmup_steps"),
                               step)
        terms = losses.beta_tc_elbo(out["logits"], images, out["mean"], out["logvar"], out["z"],
                                    beta=beta, dataset_size=dataset_size(config),
                                    estimator=base.option(config, "tc_estimator"),
                                    prior=base.option(config, "prior"),
                                    mi_weight=float(base.option(config, "mi_weight")),
                                    likelihood=config.likelihood)
        return base.elbo_metrics(terms, beta=beta,
                                 total_correlation=jnp.mean(terms.total_correlation))


OBJECTIVE = BetaTCVAE()
