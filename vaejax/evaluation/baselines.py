"""Baseline representations for the disentanglement table (Higgins et al. 2017, Table 1)."""

from __future__ import annotations

import numpy as np
from sklearn import decomposition

from vaejax.data import factors


class GroundTruthFactors:
    """The factor values themselves (shape, scale, orientation, posX, posY).

    Has ``codes_for(classes)``, which the metrics use; it cannot encode images.
    """

    def __init__(self, varying=(1, 2, 3, 4, 5)):
        self.varying = list(varying)

    def codes_for(self, latents_classes) -> np.ndarray:
        return factors.classes_to_values(latents_classes)[:, self.varying].astype(np.float32)

    def __call__(self, images):
        raise NotImplementedError("the ground-truth representation reads factors, not images")


def raw_pixels(images: np.ndarray) -> np.ndarray:
    """Images (N, 64, 64, 1) -> flattened pixels (N, 4096)."""
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


def encoder_representation(model, params, *, batch_size: int | None = None):
    """The encoder mean of a vaejax model, jitted, in fixed-size batches.

    ``batch_size`` None picks the fastest measured size: 1,024, except for
    a convolutional encoder on CPU, 128 (its activations, ~0.5 MB per image,
    then stay in cache: ~1.6x the images/s of batch 1,024 on a 2-core CPU,
    ``benchmarks/encode.py``).
    """
    import jax  # pylint: disable=import-outside-toplevel
    from vaejax import models  # pylint: disable=import-outside-toplevel

    if batch_size is None:
        conv = isinstance(model.encoder, models.ConvEncoder)
        batch_size = 128 if conv and jax.default_backend() == "cpu" else 1024
    encode = jax.jit(lambda p, x: model.apply({"params": p}, x, method=models.Autoencoder.encode))

    def representation(images):
        images = np.asarray(images, np.float32)
        n = len(images)
        out = []
        for start in range(0, n, batch_size):
            chunk = images[start:start + batch_size]
            pad = batch_size - len(chunk)
            if pad:  # one compiled shape
                chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], np.float32)])
            out.append(encode(params, chunk))  # dispatched; read back below
        return np.concatenate([np.asarray(o) for o in out])[:n]

    return representation
