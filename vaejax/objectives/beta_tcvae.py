"""beta-TCVAE (Chen et al. 2018): rec + KL + (beta - 1) TC + (alpha - 1) MI.

TC and MI are estimated from the minibatch.
"""

import jax.numpy as jnp

from vaejax import losses
from vaejax.errors import ConfigError
from vaejax.objectives import base


class BetaTCVAE(base.Objective):
    name = "beta_tcvae"
    uses_prior = True

    def validate(self, config) -> None:
        if not (config.batch_size >= 2 and config.get("dataset_size", 0) >= config.batch_size):
            raise ConfigError("the beta_tcvae objective needs config.batch_size >= 2 and "
                              "config.dataset_size (the training set's size) >= the batch "
                              f"size, got {config.batch_size} and {config.get('dataset_size')}")
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
                                    beta=beta, dataset_size=config.dataset_size,
                                    estimator=base.option(config, "tc_estimator"),
                                    prior=base.option(config, "prior"),
                                    mi_weight=float(base.option(config, "mi_weight")))
        return base.elbo_metrics(terms, beta=beta,
                                 total_correlation=jnp.mean(terms.total_correlation))


OBJECTIVE = BetaTCVAE()
