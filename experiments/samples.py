"""Writes a grid of random dSprites images drawn by the built-in renderer.

    python -m experiments.samples --out samples.png --num 64 --seed 0
"""

from absl import app, flags
import numpy as np
from PIL import Image

from vaejax import data

_OUT = flags.DEFINE_string("out", "samples.png", "PNG file to write.")
_NUM = flags.DEFINE_integer("num", 64, "Number of images (a square grid is filled row by row).")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed.")


def image_grid(imgs: np.ndarray, *, columns: int, pad: int = 2) -> np.ndarray:
    """uint8 0/1 images (N, H, W) -> one uint8 0..255 picture, grey padding."""
    n, h, w = imgs.shape
    rows = -(-n // columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), 128, np.uint8)
    for i, img in enumerate(imgs):
        r, c = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = img * 255
    return grid


def main(argv):
    del argv
    if _NUM.value <= 0:
        raise app.UsageError(f"--num must be positive, got {_NUM.value}")
    rng = np.random.default_rng(_SEED.value)
    classes = data.GroundTruth().sample_factors(_NUM.value, rng)
    imgs = data.render(classes)
    columns = int(np.ceil(np.sqrt(_NUM.value)))
    picture = Image.fromarray(image_grid(imgs, columns=columns))
    picture = picture.resize((picture.width * 2, picture.height * 2), Image.NEAREST)
    picture.save(_OUT.value)
    print(f"Wrote {_NUM.value} dSprites samples to {_OUT.value}")


if __name__ == "__main__":
    app.run(main)
