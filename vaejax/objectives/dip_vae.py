"""DIP-VAE-I and -II (Kumar et al. 2018): the negative ELBO plus a penalty that
pushes a covariance of the codes towards the identity (``losses.dip_covariance``).

Config: ``dip_type`` ("i" or "ii"), ``lambda_od`` (off-diagonal weight) and
``lambda_d_factor`` (the diagonal's weight is ``lambda_d_factor * lambda_od``),
as disentanglement_lib: lambda_od in {1, 2, 5, 10, 20, 50}, lambda_d_factor 10
for DIP-VAE-I and 1 for DIP-VAE-II.
"""

import jax.numpy as jnp

from vaejax import losses
from vaejax.errors import ConfigError
from vaejax.objectives import base


class DIPVAE(base.Objective):
    name = "dip_vae"
    uses_prior = True

    def validate(self, config) -> None:
        if config.get("dip_type") not in losses.DIP_TYPES:
            raise ConfigError(f"config.dip_type must be one of {losses.DIP_TYPES}, got "
                              f"{config.get('dip_type')!r}")
        for field in ("lambda_od", "lambda_d_factor"):
            if not config.get(field, -1) >= 0:
                raise ConfigError(f"the dip_vae objective needs config.{field} >= 0, got "
                                  f"{config.get(field)!r}")
        if config.batch_size < 2:
            raise ConfigError("the dip_vae objective estimates a covariance over the batch: "
                              f"config.batch_size must be >= 2, got {config.batch_size}")

    def loss(self, params, extra_params, model, config, images, key, step):
        out = base.forward(params, model, config, images, key)
        terms = losses.beta_elbo(out["logits"], images, out["mean"], out["logvar"], beta=1.0,
                                 prior=base.option(config, "prior"),
                                 likelihood=config.likelihood)
        cov = losses.dip_covariance(out["mean"], out["logvar"], dip_type=config.dip_type)
        penalty = losses.dip_regularizer(cov, lambda_od=config.lambda_od,
                                         lambda_d=config.lambda_d_factor * config.lambda_od)
        elbo, metrics = base.elbo_metrics(terms, dip_penalty=penalty,
                                          code_variance=jnp.mean(jnp.diagonal(cov)))
        metrics["loss"] = elbo + penalty
        return elbo + penalty, metrics


OBJECTIVE = DIPVAE()
