"""Pictures of a trained model: reconstructions, latent traversals (PNG and GIF), KL per latent."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1], (..., H, W, C) -> uint8 0..255: (..., H, W) for one
    channel, (..., H, W, 3) for colour."""
    images = np.asarray(images)
    if images.shape[-1] == 1:
        images = images[..., 0]
    return (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)


def tile(rows: np.ndarray, pad: int = 2, value: int = 128) -> np.ndarray:
    """uint8 images (R, C, H, W) or (R, C, H, W, 3) -> one (R*(H+pad)+pad,
    C*(W+pad)+pad[, 3]) picture."""
    r, c, h, w = rows.shape[:4]
    out = np.full((r * (h + pad) + pad, c * (w + pad) + pad) + rows.shape[4:], value, np.uint8)
    for i in range(r):
        for j in range(c):
            out[pad + i * (h + pad):pad + i * (h + pad) + h,
                pad + j * (w + pad):pad + j * (w + pad) + w] = rows[i, j]
    return out


def save_reconstructions(path: Path, images: np.ndarray, reconstructions: np.ndarray,
                         *, columns: int = 8) -> None:
    """PNG: rows of originals, each followed by a row of reconstructions (probabilities)."""
    n = len(images) - len(images) % columns
    orig = to_uint8(images[:n])
    rec = to_uint8(reconstructions[:n])
    frame = orig.shape[1:]
    orig = orig.reshape((-1, columns) + frame)
    rec = rec.reshape((-1, columns) + frame)
    rows = np.stack([orig, rec], axis=1).reshape((-1, columns) + frame)
    picture = Image.fromarray(tile(rows))
    picture.resize((picture.width * 2, picture.height * 2), Image.NEAREST).save(path)


def save_traversals(path_png: Path, path_gif: Path, traversals: np.ndarray, order: np.ndarray,
                    kl: np.ndarray, values: np.ndarray, *,
                    labels: list[str] | None = None) -> None:
    """Latent traversals.

    Args:
      traversals: (D, V, H, W, C) decoded probabilities (C = 1 or 3), latent d set to
        values[v].
      order: latents in the order to show (by KL, largest first).
      kl: (D,) mean KL per latent, printed per row.
      values: (V,) traversal values.
      labels: optional text per latent (e.g. the factor it carries), under its KL.
    """
    d, v = traversals.shape[:2]
    frames = to_uint8(traversals)
    h, w = frames.shape[2:4]
    fig, axes = plt.subplots(len(order), 1, figsize=(v * 0.8 + 1.6, len(order) * 0.85 + 0.4))
    axes = np.atleast_1d(axes)
    for ax, latent in zip(axes, order):
        ax.imshow(tile(frames[latent][None], pad=1), cmap="gray", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        text = f"z{latent}\nKL {kl[latent]:.2f}"
        if labels is not None:
            text += "\n" + labels[latent]
        ax.set_ylabel(text, rotation=0, ha="right", va="center", fontsize=8)
    axes[0].set_title(f"each latent from {values[0]:g} to {values[-1]:g}, others at a seed "
                      "image's code", fontsize=9)
    fig.tight_layout()
    fig.savefig(path_png, dpi=100)
    plt.close(fig)
    # GIF: one frame per value, all latents side by side (same order), back and forth.
    sweep = list(range(v)) + list(range(v - 2, 0, -1))
    gif_frames = [Image.fromarray(tile(frames[order][:, i][None], pad=2)).resize(
        ((len(order) * (w + 2) + 2) * 2, (h + 4) * 2), Image.NEAREST) for i in sweep]
    gif_frames[0].save(path_gif, save_all=True, append_images=gif_frames[1:], duration=120,
                       loop=0)


def save_latent_gifs(directory: Path, traversals: np.ndarray, *, scale: int = 2) -> list[Path]:
    """One animated GIF per latent, ``directory/z<d>.gif``: the decoded images
    as latent d sweeps its values, back and forth.

    Args:
      traversals: (D, V, H, W, C) decoded probabilities, as for save_traversals.
    Returns the D paths, in latent order.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frames = to_uint8(traversals)
    v = frames.shape[1]
    sweep = list(range(v)) + list(range(v - 2, 0, -1))
    paths = []
    h, w = frames.shape[2:4]
    for d, latent in enumerate(frames):
        images = [Image.fromarray(latent[i]).resize((w * scale, h * scale), Image.NEAREST)
                  for i in sweep]
        path = directory / f"z{d}.gif"
        images[0].save(path, save_all=True, append_images=images[1:], duration=120, loop=0)
        paths.append(path)
    return paths


def save_kl_bars(path: Path, kl: np.ndarray, *, active_threshold: float = 0.1) -> None:
    """Bar chart of the mean KL (nats) of each latent."""
    fig, ax = plt.subplots(figsize=(max(4, len(kl) * 0.5), 3))
    colors = ["tab:blue" if k > active_threshold else "tab:gray" for k in kl]
    ax.bar(np.arange(len(kl)), kl, color=colors)
    ax.set_xticks(np.arange(len(kl)), [f"z{i}" for i in range(len(kl))])
    ax.set_ylabel("KL (nats)")
    ax.set_title(f"KL per latent; {int(np.sum(kl > active_threshold))} active (> {active_threshold})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
