"""beta-TCVAE on dSprites (Chen et al. 2018): rec + KL + (beta - 1) * TC.

Only the total correlation of the aggregate posterior is weighted by beta
(6, the paper's dSprites choice); its estimate uses the minibatch (see
``vaejax.losses.total_correlation``). Convolutional model, Adam 1e-4, batch 64.
Variants: ``fc`` (Higgins et al.'s model), ``cpu``, ``smoke``.
"""

from experiments import base


def fc(c):
    c.architecture = "fc"
    c.name = c.name + ":fc"
    return c


def cpu(c):
    c.learning_rate = 5e-4
    c.beta_warmup_steps = 5_000  # the TC weight ramps from 1 to beta
    return base.cpu_scale(c, 16_000)


def get_config(arg=None):
    c = base.base_config()
    c.name = "beta_tcvae"
    c.architecture = "conv"
    c.objective = "beta_tcvae"
    c.beta = 6.0
    c.dataset_size = 737_280  # N in the aggregate posterior q(z) = (1/N) sum_n q(z | x_n)
    c.tc_estimator = "stratified"  # stratified | mws
    c.optimizer = "adam"
    c.learning_rate = 1e-4
    return base.apply_variant(c, arg, dict(fc=fc, cpu=cpu))
