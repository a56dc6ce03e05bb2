"""InfoGAN (Chen et al. 2016): a GAN whose discriminator's Q head predicts
the generator's codes c, with lambda * (a lower bound on I(c; G(z, c))) added
to both networks' losses.

One step, compiled as one function, alternates as the paper's code does:
the discriminator and Q take an Adam step on
``gan_discriminator_loss(D(x), D(G(z, c))) - lambda * L_I``, then the
generator, against the updated discriminator, on
``gan_generator_loss(D(G(z, c))) - lambda * L_I`` (non-saturating), both
from one sample of c ~ U[-1, 1]^C and noise ~ N(0, 1)^N.

Config: ``latents`` (C, the codes; 5 on dSprites), ``gan_noise`` (N),
``infogan_lambda``, ``learning_rate`` (the generator's Adam) and
``discriminator_learning_rate`` (the discriminator's and Q's), both Adam
with beta1 0.5. The model is ``architecture="infogan"`` (:mod:`vaejax.infogan`);
the representation scored is Q's mean of c.
"""

import jax
import jax.numpy as jnp
import optax

from vaejax import infogan, losses
from vaejax.errors import ConfigError
from vaejax.objectives import base

PARTS = ("encoder", "decoder")  # discriminator with Q, generator


def part_optimizers(config) -> dict:
    """One Adam (beta1 0.5, as Chen et al.) per network."""
    clip = base.option(config, "grad_clip_norm")

    def adam(lr):
        opt = optax.adam(lr, b1=0.5)
        return optax.chain(optax.clip_by_global_norm(clip), opt) if clip else opt

    return dict(encoder=adam(config.discriminator_learning_rate),
                decoder=adam(config.learning_rate))


def _both(config) -> optax.GradientTransformation:
    parts = part_optimizers(config)

    def init(params):
        return {k: parts[k].init(params[k]) for k in PARTS}

    def update(grads, state, params=None):
        out = {k: parts[k].update(grads[k], state[k], None if params is None else params[k])
               for k in PARTS}
        return {k: out[k][0] for k in PARTS}, {k: out[k][1] for k in PARTS}

    return optax.GradientTransformation(init, update)


class InfoGAN(base.Objective):
    name = "infogan"
    variational = False
    architectures = ("infogan",)
    checked_metrics = ("loss", "discriminator_loss")

    def validate(self, config) -> None:
        if config.optimizer != "adam":
            raise ConfigError("the infogan objective trains both networks with Adam: set "
                              f"config.optimizer='adam', got {config.optimizer!r}")
        for field in ("gan_noise", "discriminator_learning_rate"):
            if not config.get(field, 0) > 0:
                raise ConfigError(f"the infogan objective needs a positive config.{field}, "
                                  f"got {config.get(field)!r}")
        if not config.get("infogan_lambda", -1) >= 0:
            raise ConfigError("the infogan objective needs config.infogan_lambda >= 0, got "
                              f"{config.get('infogan_lambda')!r}")

    def optimizer(self, config):
        return _both(config)

    def loss(self, params, extra_params, model, config, images, key, step):
        """Both networks' losses at ``params`` (no update); the sum, and the
        metrics of :meth:`train_update`."""
        c, noise = infogan.sample_inputs(model, key, images.shape[0])
        d_loss, d_metrics = _discriminator_loss(params["encoder"], params, model, config,
                                                        images, c, noise)
        g_loss, g_metrics = _generator_loss(params["decoder"], params, model, config, c, noise)
        return d_loss + g_loss, {**d_metrics, **g_metrics}

    def train_update(self, config, model, tx, state, images, key):
        parts = part_optimizers(config)
        params, opt_state = dict(state.params), dict(state.opt_state)
        c, noise = infogan.sample_inputs(model, key, images.shape[0])
        d_grads, d_metrics = jax.grad(_discriminator_loss, has_aux=True)(
            params["encoder"], params, model, config, images, c, noise)
        updates, opt_state["encoder"] = parts["encoder"].update(
            d_grads, opt_state["encoder"], params["encoder"])
        params["encoder"] = optax.apply_updates(params["encoder"], updates)
        g_grads, g_metrics = jax.grad(_generator_loss, has_aux=True)(
            params["decoder"], params, model, config, c, noise)
        updates, opt_state["decoder"] = parts["decoder"].update(
            g_grads, opt_state["decoder"], params["decoder"])
        params["decoder"] = optax.apply_updates(params["decoder"], updates)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), \
            {**d_metrics, **g_metrics}


def _discriminate(model, params, x):
    return model.apply({"params": params}, x, method=type(model).discriminate)


def _generate(model, params, c, noise):
    return jax.nn.sigmoid(model.apply({"params": params}, c, noise, method=type(model).generate))


def _discriminator_loss(encoder, params, model, config, images, c, noise):
    """The discriminator's and Q's loss, a function of their parameters ``encoder``."""
    fake = jax.lax.stop_gradient(_generate(model, params, c, noise))
    both = dict(params, encoder=encoder)
    real_logit, _, _ = _discriminate(model, both, images)
    fake_logit, q_mean, q_logvar = _discriminate(model, both, fake)
    gan = losses.gan_discriminator_loss(real_logit, fake_logit)
    info = jnp.mean(losses.infogan_mutual_information(c, q_mean, q_logvar))
    accuracy = 0.5 * (jnp.mean(real_logit > 0) + jnp.mean(fake_logit < 0))
    return gan - config.infogan_lambda * info, dict(
        discriminator_loss=gan, mutual_information=info, discriminator_accuracy=accuracy)


def _generator_loss(decoder, params, model, config, c, noise):
    """The generator's loss, a function of its parameters ``decoder``, the
    discriminator and Q held fixed."""
    frozen = dict(jax.lax.stop_gradient(params), decoder=decoder)
    fake_logit, q_mean, q_logvar = _discriminate(model, frozen,
                                                 _generate(model, frozen, c, noise))
    gan = losses.gan_generator_loss(fake_logit)
    info = jnp.mean(losses.infogan_mutual_information(c, q_mean, q_logvar))
    loss = gan - config.infogan_lambda * info
    return loss, dict(loss=loss, generator_loss=gan)


OBJECTIVE = InfoGAN()
