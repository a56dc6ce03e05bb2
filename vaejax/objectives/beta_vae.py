"""beta-VAE (Higgins et al. 2017): reconstruction + beta KL; beta 1 is the VAE."""

import jax.numpy as jnp

from vaejax import losses
from vaejax.errors import ConfigError
from vaejax.objectives import base


def beta_at(config, step):
    """beta at ``step``: ramped linearly from 0 over ``beta_warmup_steps`` when that
    is set; or, with ``beta_start`` > 0, annealed geometrically from ``beta_start``
    down (or up) to ``beta`` over ``beta_anneal_steps``, then held."""
    start = base.option(config, "beta_start")
    if start > 0:
        frac = jnp.clip(step.astype(jnp.float32) / base.option(config, "beta_anneal_steps"),
                        0.0, 1.0)
        return jnp.float32(start) * (jnp.float32(config.beta / start) ** frac)
    return base.ramp(config.beta, base.option(config, "beta_warmup_steps"), step)


class BetaVAE(base.Objective):
    name = "beta_vae"
    uses_prior = True

    def validate(self, config):
        start = base.option(config, "beta_start")
        if start < 0:
            raise ConfigError(f"config.beta_start must be 0 (no annealing) or positive, "
                              f"got {start}")
        if start > 0:
            if base.option(config, "beta_anneal_steps") <= 0:
                raise ConfigError("config.beta_start needs config.beta_anneal_steps > 0: the "
                                  "steps over which beta goes from beta_start to beta")
            if base.option(config, "beta_warmup_steps"):
                raise ConfigError("config.beta_start (annealing from beta_start) and "
                                  "config.beta_warmup_steps (a ramp from 0) exclude each other")
            if config.beta <= 0:
                raise ConfigError(f"annealing to config.beta needs beta > 0, got {config.beta}")

    def loss(self, params, extra_params, model, config, images, key, step):
        out = base.forward(params, model, config, images, key)
        beta = beta_at(config, step)
        terms = losses.beta_elbo(out["logits"], images, out["mean"], out["logvar"], beta=beta,
                                 prior=base.option(config, "prior"),
                                 likelihood=config.likelihood)
        return base.elbo_metrics(terms, beta=beta)


OBJECTIVE = BetaVAE()
