"""CelebA (Liu et al. 2015): aligned face photographs, unlabelled here.

Sources: ``dir:PATH``, a directory of the aligned JPEGs
(``img_align_celeba/``, 178 x 218); or ``tfds`` / ``tfds:DATA_DIR``,
tensorflow-datasets ``celeb_a`` (train split). Each picture's centre
140 x 140 square is cropped and resized to 64 x 64 (the crop of the
beta-VAE papers' CelebA models and of disent), decoded once and cached.
No factors: training, reconstructions and traversals only.
"""

from __future__ import annotations

from vaejax.data import files
from vaejax.data.ground_truth import ImageData
from vaejax.errors import DataError

CROP = 140


class CelebA(ImageData):
    name = "celeba"
    observation_shape = (64, 64, 3)
    num_images = 202_599  # the release's size


def load(source: str, *, progress: bool = True) -> CelebA:
    """CelebA from ``dir:PATH`` or ``tfds`` / ``tfds:DATA_DIR``."""
    kind, arg = files.parse_source(source, "celeba", ("dir", "tfds"))
    if kind == "tfds":
        images, _, name = files.tfds_records("celeb_a", arg or None, "train", image_key="image",
                                             label_keys=(), shape=(64, 64, 3), size=64,
                                             crop=CROP, progress=progress)
        return CelebA(images, name)
    directory = files.existing_dir(arg, "celeba")
    paths = files.picture_files(directory)
    if not paths:
        raise DataError(f"dir:{directory}: no pictures (expected CelebA's aligned JPEGs)")
    images = files.load_pictures(paths, size=64, channels=3, crop=CROP, tag="celeba",
                                 source=f"dir:{directory}", progress=progress)
    return CelebA(images, f"dir:{directory}")
