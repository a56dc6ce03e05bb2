"""Writes a grid of random images of a dataset (default: dSprites drawn by the renderer).

    python -m experiments.samples --out samples.png --num 64 --seed 0 \
        [--dataset color_dsprites] [--data_source npz:PATH]
"""

from absl import app, flags
import numpy as np
from PIL import Image

from experiments import cli
from vaejax.data import datasets
from vaejax.evaluation import visualize

_OUT = flags.DEFINE_string("out", "samples.png", "PNG file to write.")
_NUM = flags.DEFINE_integer("num", 64, "Number of images (a square grid is filled row by row).")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed.")
_DATASET = flags.DEFINE_enum("dataset", "dsprites", list(datasets.NAMES), "Which dataset.")
_DATA = flags.DEFINE_string("data_source", None, "Where its files are (docs/data.md); the "
                            "dSprites family draws with the renderer when unset.")


def main(argv):
    del argv
    if _NUM.value <= 0:
        raise app.UsageError(f"--num must be positive, got {_NUM.value}")
    rng = np.random.default_rng(_SEED.value)
    ds = datasets.load(_DATASET.value, _DATA.value, seed=_SEED.value)
    imgs = visualize.to_uint8(ds.sample_images(_NUM.value, rng))
    columns = int(np.ceil(np.sqrt(_NUM.value)))
    blank = np.full((-len(imgs) % columns,) + imgs.shape[1:], 128, np.uint8)  # grey padding
    cells = np.concatenate([imgs, blank]).reshape((-1, columns) + imgs.shape[1:])
    picture = Image.fromarray(visualize.tile(cells))
    picture = picture.resize((picture.width * 2, picture.height * 2), Image.NEAREST)
    picture.save(_OUT.value)
    print(f"Wrote {_NUM.value} {_DATASET.value} samples to {_OUT.value}")


if __name__ == "__main__":
    app.run(cli.reports_errors(main))
