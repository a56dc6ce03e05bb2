"""Capacity-annealed VAE (Burgess et al. 2018): rec + gamma |KL - C|, C ramped up.

``config.gamma_warmup_steps`` ramps gamma itself from 0 (0: the paper's
constant gamma), so that the decoder learns to reconstruct before the
penalty binds.
"""

from vaejax import losses
from vaejax.objectives import base


class Capacity(base.Objective):
    name = "capacity"

    def loss(self, params, extra_params, model, config, images, key, step):
        out = base.forward(params, model, config, images, key)
        capacity = losses.linear_capacity(step, max_capacity=config.capacity_max,
                                          num_steps=config.capacity_steps)
        gamma = base.ramp(config.gamma, base.option(config, "gamma_warmup_steps"), step)
        terms = losses.capacity_elbo(out["logits"], images, out["mean"], out["logvar"],
                                     gamma=gamma, capacity=capacity,
                                     likelihood=config.likelihood)
        return base.elbo_metrics(terms, capacity=capacity, gamma=gamma)


OBJECTIVE = Capacity()
