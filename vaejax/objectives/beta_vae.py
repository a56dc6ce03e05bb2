"""beta-VAE (Higgins et al. 2017): reconstruction + beta KL; beta 1 is the VAE."""

from vaejax import losses
from vaejax.objectives import base


def beta_at(config, step):
    """beta, ramped linearly from 0 over ``beta_warmup_steps`` when that is set."""
    return base.ramp(config.beta, base.option(config, "beta_warmup_steps"), step)


class BetaVAE(base.Objective):
    name = "beta_vae"
    uses_prior = True

    def loss(self, params, extra_params, model, config, images, key, step):
        out = base.forward(params, model, config, images, key)
        beta = beta_at(config, step)
        terms = losses.beta_elbo(out["logits"], images, out["mean"], out["logvar"], beta=beta,
                                 prior=base.option(config, "prior"),
                                 likelihood=config.likelihood)
        return base.elbo_metrics(terms, beta=beta)


OBJECTIVE = BetaVAE()
