"""The model a run's config describes: architecture, objective and data, put together.

:mod:`vaejax.models` and :mod:`vaejax.infogan` define the networks and take
what they need (variational or not, the image shape) as arguments; this
module reads those from the config, the objective and the dataset.
"""

from __future__ import annotations

from vaejax import infogan, models, objectives, options
from vaejax.data import datasets

ARCHITECTURES = models.AUTOENCODER_ARCHITECTURES + ("infogan",)
# The architectures whose strided convolutions need a height and width divisible by 16.
CONVOLUTIONAL = ("conv", "broadcast", "infogan")


def build(architecture: str, *, latents: int, variational: bool,
          image_shape=models.IMAGE_SHAPE, conv_impl: str = models.DEFAULT_CONV_IMPL,
          noise_dims: int = 32, broadcast_resolution: int = 64, downsample: str = "stride",
          upsample: str = "transpose") -> models.Autoencoder:
    """The named architecture (:func:`vaejax.models.build_autoencoder`, or ``infogan``:
    InfoGAN's discriminator with Q head and generator on the conv layers,
    ``latents`` codes and ``noise_dims`` noise) for images of ``image_shape``."""
    if architecture == "infogan":
        if conv_impl not in models.CONV_IMPLS:
            raise ValueError(f"unknown conv_impl {conv_impl!r}; expected one of "
                             f"{models.CONV_IMPLS}")
        return infogan.conv_infogan(latents, noise_dims, conv_impl == "fast", image_shape)
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of "
                         f"{ARCHITECTURES}")
    return models.build_autoencoder(architecture, latents=latents, variational=variational,
                                    image_shape=image_shape, conv_impl=conv_impl,
                                    broadcast_resolution=broadcast_resolution,
                                    downsample=downsample, upsample=upsample)


def from_config(config) -> models.Autoencoder:
    """The model a run's config describes (``architecture``, ``latents``, ``objective``,
    ``dataset``, ``conv_impl``, ``broadcast_resolution``, ``gan_noise``, ``downsample``,
    ``upsample``)."""
    return build(config.architecture, latents=config.latents,
                 variational=objectives.get(config.objective).variational,
                 image_shape=datasets.observation_shape(config),
                 conv_impl=config.get("conv_impl", models.DEFAULT_CONV_IMPL),
                 noise_dims=config.get("gan_noise", 32),
                 broadcast_resolution=config.get("broadcast_resolution", 64),
                 downsample=options.get(config, "downsample"),
                 upsample=options.get(config, "upsample"))
