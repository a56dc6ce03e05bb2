"""What a denoising autoencoder buys: reconstruction of clean images from corrupted ones.

For each corruption (salt-and-pepper, masking: :mod:`vaejax.data.corruptions`)
and rate, the model decodes corrupted inputs and the output (the Bernoulli
mean, sigmoid of the logits) is compared with the clean image: mean squared
error per pixel, intensities in [0, 1]. Rate 0 is the plain reconstruction
error. The same images and corruption draws serve every model, so two
models' curves compare point by point.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vaejax import models  # noqa: E402
from vaejax.data import corruptions  # noqa: E402
from vaejax.evaluation import visualize  # noqa: E402

KINDS = {"salt_and_pepper": corruptions.salt_and_pepper, "masking": corruptions.masking_noise}
RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def corrupted(kind: str, rate: float, images: np.ndarray, seed: int = 0) -> np.ndarray:
    """``images`` (N, H, W, C) in [0, 1] with ``kind`` noise at ``rate`` (draws fixed by
    ``seed``, ``kind`` and ``rate``)."""
    if kind not in KINDS:
        raise ValueError(f"corruption must be one of {tuple(KINDS)}, got {kind!r}")
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), list(KINDS).index(kind)),
                             int(round(rate * 1000)))
    return np.asarray(KINDS[kind](key, jnp.asarray(images, jnp.float32), rate=rate))


def output_link(config) -> str:
    """How a run's decoder output becomes an image: ``identity`` for an autoencoder
    trained with squared error (``likelihood`` gaussian: its output is the image),
    else ``sigmoid`` (the Bernoulli mean, or the VAE family's l2 on sigmoid)."""
    squared = config.get("likelihood", "bernoulli") == "gaussian"
    return "identity" if squared and config.objective == "autoencoder" else "sigmoid"


LINKS = ("sigmoid", "identity")


def check_link(link: str) -> None:
    """Raises ValueError unless ``link`` is one of :data:`LINKS`."""
    if link not in LINKS:
        raise ValueError(f"link must be sigmoid or identity, got {link!r}")


def apply_link(out: jax.Array, link: str) -> jax.Array:
    """Decoder outputs -> images: ``sigmoid`` of the logits, or the output itself
    (``identity``; unclipped, so errors are measured on what the model gives)."""
    check_link(link)
    return jax.nn.sigmoid(out) if link == "sigmoid" else out


def output_fn(model, params, batch_size: int = 256, link: str = "sigmoid"):
    """images (N, H, W, C) -> the model's outputs (:func:`apply_link` of the decoder's),
    through the code (the posterior mean for a VAE); compiled once."""
    check_link(link)
    run = jax.jit(lambda p, x: apply_link(model.apply(
        {"params": p}, model.apply({"params": p}, x, method=models.Autoencoder.encode),
        method=models.Autoencoder.decode), link))

    def outputs(images):
        return np.concatenate([np.asarray(run(params, jnp.asarray(images[i:i + batch_size])))
                               for i in range(0, len(images), batch_size)])
    return outputs


def curves(model, params, images: np.ndarray, *, rates=RATES, seed: int = 0,
           link: str = "sigmoid") -> dict:
    """Per corruption kind: the output's mean squared error per pixel against the
    clean ``images``, one per rate; ``input`` the corrupted input's own error (what
    doing nothing scores); ``rates``."""
    out = dict(rates=[float(r) for r in rates])
    outputs = output_fn(model, params, link=link)
    for kind in KINDS:
        model_err, input_err = [], []
        for rate in rates:
            noisy = corrupted(kind, rate, images, seed)
            model_err.append(float(np.mean((outputs(noisy) - images) ** 2)))
            input_err.append(float(np.mean((noisy - images) ** 2)))
        out[kind] = dict(output=model_err, input=input_err)
    return out


def save_examples(path: Path, model, params, images: np.ndarray, *, rate: float = 0.3,
                  seed: int = 0, columns: int = 8, link: str = "sigmoid") -> None:
    """PNG: per corruption kind, rows of corrupted inputs (at ``rate``), the model's
    outputs, and the clean targets."""
    images = images[:columns]
    outputs = output_fn(model, params, link=link)
    rows = []
    for kind in KINDS:
        noisy = corrupted(kind, rate, images, seed)
        rows += [noisy, outputs(noisy), images]
    picture = visualize.tile(visualize.to_uint8(np.stack(rows)))
    fig, ax = plt.subplots(figsize=(1.0 * columns + 1.5, 0.9 * len(rows) + 0.6))
    ax.imshow(picture, cmap="gray", vmin=0, vmax=255)
    h = images.shape[1] + 2
    labels = [f"{kind.replace('_', ' ')} {rate:.0%}" if i % 3 == 0 else
              ("output" if i % 3 == 1 else "clean") for i, kind in
              enumerate(k for k in KINDS for _ in range(3))]
    ax.set_yticks([2 + h * i + h / 2 for i in range(len(rows))], labels, fontsize=8)
    ax.set_xticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_curves(path: Path, results: dict[str, dict]) -> None:
    """PNG: error against corruption rate, one panel per kind, one line per model
    (``results``: label -> :func:`curves` output), and the corrupted input's error."""
    fig, axes = plt.subplots(1, len(KINDS), figsize=(5 * len(KINDS), 3.6))
    for ax, kind in zip(axes, KINDS):
        first = next(iter(results.values()))
        ax.plot(first["rates"], first[kind]["input"], "k:", label="corrupted input itself")
        for label, res in results.items():
            ax.plot(res["rates"], res[kind]["output"], "o-", label=label)
        ax.set_title(kind.replace("_", " "), fontsize=10)
        ax.set_xlabel("corruption rate")
        ax.set_ylabel("MSE per pixel against the clean image")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
