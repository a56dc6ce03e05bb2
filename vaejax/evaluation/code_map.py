"""A 2-D map of the code: where images land, coloured by each ground-truth factor.

The lecture's third use of an autoencoder, dimensionality reduction for
visualisation. A 2-latent code is drawn as it is; a wider one through the
first two principal components of the codes (a PCA of the codes themselves,
so the map shows the two directions the codes vary most along).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import decomposition  # noqa: E402


def coordinates(codes: np.ndarray) -> tuple[np.ndarray, str]:
    """Codes (N, D) -> (N, 2) map coordinates and how they were made: the code itself
    for D = 2 (D = 1 against zeros), else its first two principal components."""
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or len(codes) < 2:
        raise ValueError(f"codes must be (N >= 2, D), got shape {codes.shape}")
    d = codes.shape[1]
    if d == 1:
        return np.concatenate([codes, np.zeros_like(codes)], axis=1), "z0 (the only latent)"
    if d == 2:
        return codes.copy(), "z0 and z1 (the code itself)"
    pca = decomposition.PCA(n_components=2).fit(codes)
    share = pca.explained_variance_ratio_
    return pca.transform(codes), (f"the codes' first two principal components "
                                  f"({share[0]:.0%} and {share[1]:.0%} of their variance)")


def save_map(path: Path, xy: np.ndarray, classes: np.ndarray, factor_names, how: str,
             *, title: str = "") -> None:
    """PNG: one scatter panel per factor, points (N, 2) coloured by that factor's
    class (``classes`` (N, K) int)."""
    k = len(factor_names)
    cols = min(k, 3)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.8 * rows), squeeze=False)
    for i, name in enumerate(factor_names):
        ax = axes[i // cols][i % cols]
        values = classes[:, i]
        discrete = len(np.unique(values)) <= 10
        cmap = plt.get_cmap("tab10" if discrete else "viridis")
        points = ax.scatter(xy[:, 0], xy[:, 1], c=values, s=3, cmap=cmap, alpha=0.7,
                            linewidths=0)
        fig.colorbar(points, ax=ax, fraction=0.046)
        ax.set_title(f"coloured by {name}", fontsize=9)
        ax.tick_params(labelsize=7)
    for j in range(k, rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(f"{title}{': ' if title else ''}map of the code, {how}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
