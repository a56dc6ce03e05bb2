"""Config fields that a config saved before they existed may lack, and their defaults.

One table for every module that reads them (training, the objectives, the models).
"""

DEFAULTS = dict(prior="gaussian", conv_impl="fast", tc_estimator="stratified",
                steps_per_dispatch=1, shard_params=False, beta_warmup_steps=0,
                gamma_warmup_steps=0, lr_warmup_steps=0, grad_clip_norm=0.0, replicas=1,
                replica_layout="auto", mi_weight=1.0, dataset="dsprites", image_channels=3,
                downsample="stride", upsample="transpose", beta_start=0.0, beta_anneal_steps=0,
                beta_anneal_begin=0)


def get(config, field):
    """``config.field``, or its default when the config predates it."""
    return config.get(field, DEFAULTS[field])
