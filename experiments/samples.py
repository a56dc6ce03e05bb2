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


def _define_flags():
    # Only when run as a program: importing this module defines no flag.
    flags.DEFINE_string("out", "samples.png", "PNG file to write.")
    flags.DEFINE_integer("num", 64, "Number of images (a square grid is filled row by row).")
    flags.DEFINE_integer("seed", 0, "Sampling seed.")
    flags.DEFINE_enum("dataset", "dsprites", list(datasets.NAMES), "Which dataset.")
    flags.DEFINE_string("data_source", None, "Where its files are (docs/data.md); the "
                        "dSprites family draws with the renderer when unset.")


def main(argv):
    fl = flags.FLAGS
    del argv
    if fl.num <= 0:
        raise app.UsageError(f"--num must be positive, got {fl.num}")
    rng = np.random.default_rng(fl.seed)
    ds = datasets.load(fl.dataset, fl.data_source, seed=fl.seed)
    imgs = visualize.to_uint8(ds.sample_images(fl.num, rng))
    columns = int(np.ceil(np.sqrt(fl.num)))
    blank = np.full((-len(imgs) % columns,) + imgs.shape[1:], 128, np.uint8)  # grey padding
    cells = np.concatenate([imgs, blank]).reshape((-1, columns) + imgs.shape[1:])
    picture = Image.fromarray(visualize.tile(cells))
    picture = picture.resize((picture.width * 2, picture.height * 2), Image.NEAREST)
    picture.save(fl.out)
    print(f"Wrote {fl.num} {fl.dataset} samples to {fl.out}")


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
