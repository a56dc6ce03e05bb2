"""Writes a grid of random dSprites images drawn by the built-in renderer.

    python -m experiments.samples --out samples.png --num 64 --seed 0
"""

from absl import app, flags
import numpy as np
from PIL import Image

from experiments import cli
from vaejax import data
from vaejax.evaluation import visualize

_OUT = flags.DEFINE_string("out", "samples.png", "PNG file to write.")
_NUM = flags.DEFINE_integer("num", 64, "Number of images (a square grid is filled row by row).")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed.")


def main(argv):
    del argv
    if _NUM.value <= 0:
        raise app.UsageError(f"--num must be positive, got {_NUM.value}")
    rng = np.random.default_rng(_SEED.value)
    classes = data.GroundTruth().sample_factors(_NUM.value, rng)
    imgs = data.render(classes)
    columns = int(np.ceil(np.sqrt(_NUM.value)))
    blank = np.full((-len(imgs) % columns, 64, 64), 128, np.uint8)  # grey, as the padding
    cells = np.concatenate([imgs * np.uint8(255), blank]).reshape(-1, columns, 64, 64)
    picture = Image.fromarray(visualize.tile(cells))
    picture = picture.resize((picture.width * 2, picture.height * 2), Image.NEAREST)
    picture.save(_OUT.value)
    print(f"Wrote {_NUM.value} dSprites samples to {_OUT.value}")


if __name__ == "__main__":
    app.run(cli.reports_errors(main))
