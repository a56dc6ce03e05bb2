"""FactorVAE (Kim & Mnih 2018): rec + KL + gamma TC, the TC from a discriminator
trained alongside, which this objective owns (its parameters and Adam state)."""

import jax
import jax.numpy as jnp
import optax

from vaejax import losses, models
from vaejax.errors import ConfigError
from vaejax.objectives import base


def discriminator_optimizer(config) -> optax.GradientTransformation:
    """Adam (beta1 0.5, beta2 0.9), as Kim & Mnih."""
    return optax.adam(config.discriminator_learning_rate, b1=0.5, b2=0.9)


class FactorVAE(base.Objective):
    name = "factor_vae"
    uses_prior = True
    state_name = "discriminator"
    checked_metrics = ("loss", "discriminator_loss")

    def validate(self, config) -> None:
        if config.batch_size < 2:
            raise ConfigError("the factor_vae objective permutes codes across the batch: "
                              f"config.batch_size must be >= 2, got {config.batch_size}")
        for field in ("discriminator_hidden", "discriminator_layers",
                      "discriminator_learning_rate"):
            if field not in config or not config[field] > 0:
                raise ConfigError(f"the factor_vae objective needs a positive "
                                  f"config.{field}, got {config.get(field)!r}")

    def init_state(self, config, key):
        params = models.discriminator_from_config(config).init(
            key, jnp.zeros((1, config.latents)))["params"]
        return dict(params=params, opt_state=discriminator_optimizer(config).init(params))

    def loss(self, params, extra_params, model, config, images, key, step):
        """The VAE's loss plus the discriminator's, each reaching only its own
        parameters; ``metrics["loss"]`` is the VAE loss alone."""
        if extra_params is None:
            raise ValueError("the factor_vae objective needs the discriminator's params")
        out = base.forward(params, model, config, images, key)
        disc = models.discriminator_from_config(config)
        frozen = jax.lax.stop_gradient(extra_params)
        terms = losses.factor_vae_elbo(out["logits"], images, out["mean"], out["logvar"],
                                       disc.apply({"params": frozen}, out["z"]),
                                       gamma=config.gamma,
                                       prior=base.option(config, "prior"),
                                       likelihood=config.likelihood)
        z = jax.lax.stop_gradient(out["z"])
        both = disc.apply({"params": extra_params},
                          jnp.concatenate([z, losses.permute_dims(jax.random.fold_in(key, 1), z)]))
        joint, product = both[:z.shape[0]], both[z.shape[0]:]
        d_loss = losses.discriminator_loss(joint, product)
        accuracy = 0.5 * (jnp.mean(joint[:, 0] > joint[:, 1])
                          + jnp.mean(product[:, 1] > product[:, 0]))
        loss, metrics = base.elbo_metrics(
            terms, total_correlation=jnp.mean(terms.total_correlation),
            discriminator_loss=d_loss, discriminator_accuracy=accuracy)
        return loss + d_loss, metrics

    def update_state(self, config, extra, grads):
        updates, opt_state = discriminator_optimizer(config).update(grads, extra["opt_state"],
                                                                    extra["params"])
        return dict(params=optax.apply_updates(extra["params"], updates), opt_state=opt_state)


OBJECTIVE = FactorVAE()
