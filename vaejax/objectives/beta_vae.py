"""beta-VAE (Higgins et al. 2017): reconstruction + beta KL; beta 1 is the VAE."""

import jax.numpy as jnp

from vaejax import losses
from vaejax.errors import ConfigError
from vaejax.objectives import base


def beta_at(config, step):
    """beta at ``step``.

    Without ``beta_start``: ``beta``, ramped linearly from 0 over
    ``beta_warmup_steps`` when that is set. With ``beta_start`` > 0: ``beta_start``
    (ramped from 0 over ``beta_warmup_steps`` when set), held until step
    ``beta_anneal_begin``, then annealed geometrically to ``beta`` over
    ``beta_anneal_steps`` and held."""
    start = base.option(config, "beta_start")
    warmup = base.option(config, "beta_warmup_steps")
    if start > 0:
        begin = base.option(config, "beta_anneal_begin")
        frac = jnp.clip((step.astype(jnp.float32) - begin)
                        / base.option(config, "beta_anneal_steps"), 0.0, 1.0)
        annealed = jnp.float32(start) * (jnp.float32(config.beta / start) ** frac)
        return base.ramp(1.0, warmup, step) * annealed
    return base.ramp(config.beta, warmup, step)


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
            begin = base.option(config, "beta_anneal_begin")
            if begin < base.option(config, "beta_warmup_steps"):
                raise ConfigError(f"config.beta_anneal_begin ({begin}) must not come before "
                                  f"the end of config.beta_warmup_steps "
                                  f"({base.option(config, 'beta_warmup_steps')}): the anneal "
                                  f"starts from beta_start once the warm-up reached it")
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
