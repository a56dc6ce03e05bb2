"""Baseline representations for the disentanglement table (Higgins et al. 2017, Table 1)."""

from __future__ import annotations

import numpy as np
from sklearn import decomposition

from vaejax import models
from vaejax.data import GroundTruth


class GroundTruthFactors:
    """The factor values themselves (dSprites: shape, scale, orientation, posX, posY).

    Has ``codes_for(classes)``, which the metrics use; it cannot encode images.
    ``data``: the dataset whose values (``classes_to_values``) and scored
    factors it gives (None: dSprites); ``varying`` overrides the columns.
    """

    def __init__(self, varying=None, data=None):
        self.data = GroundTruth() if data is None else data
        self.varying = list(self.data.varying_factors if varying is None else varying)

    def codes_for(self, latents_classes) -> np.ndarray:
        values = self.data.classes_to_values(latents_classes)
        return values[:, self.varying].astype(np.float32)

    def __call__(self, images):
        raise NotImplementedError("the ground-truth representation reads factors, not images")


def raw_pixels(images: np.ndarray) -> np.ndarray:
    """Images (N, H, W, C) -> flattened pixels (N, H*W*C)."""
    return np.asarray(images, np.float32).reshape(len(images), -1)


def _fit_images(data, num: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return raw_pixels(data.images(data.sample_factors(num, rng)))


def pca(data, *, num_components: int = 10, num_fit: int = 10_000, seed: int = 0):
    """Projection onto the top principal components of ``num_fit`` random images."""
    model = decomposition.PCA(num_components, random_state=seed).fit(_fit_images(data, num_fit, seed))
    return lambda images: model.transform(raw_pixels(images)).astype(np.float32)


def ica(data, *, num_components: int = 10, num_fit: int = 10_000, seed: int = 0):
    """FastICA sources of ``num_fit`` random images, unmixed within their top
    principal components (ICA directly on 4096 mostly-constant pixels is
    numerically unstable)."""
    pixels = _fit_images(data, num_fit, seed)
    reduce = decomposition.PCA(num_components, random_state=seed).fit(pixels)
    unmix = decomposition.FastICA(num_components, random_state=seed, max_iter=2000,
                                  whiten="unit-variance")
    unmix.fit(reduce.transform(pixels))
    return lambda images: unmix.transform(reduce.transform(raw_pixels(images))).astype(np.float32)


encoder_representation = models.encoder_representation
