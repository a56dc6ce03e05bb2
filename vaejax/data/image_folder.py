"""Any folder of pictures (PNG, JPEG, BMP, GIF, WebP; searched recursively), unlabelled.

Source ``dir:PATH``. Each picture's centre square is cropped and resized to
``size`` x ``size`` (64), in colour (``channels`` 3, the default) or
greyscale (1: ``--config.image_channels=1``), decoded once and cached.
No factors: training, reconstructions and traversals only.
"""

from __future__ import annotations

from vaejax.data import files
from vaejax.data.ground_truth import ImageData
from vaejax.errors import DataError

SIZE = 64


class ImageFolder(ImageData):
    name = "images"


def load(source: str, *, channels: int = 3, progress: bool = True) -> ImageFolder:
    """The pictures under ``dir:PATH`` as uint8 (N, 64, 64, channels)."""
    _, arg = files.parse_source(source, "images", ("dir",))
    directory = files.existing_dir(arg, "images")
    paths = files.picture_files(directory)
    if not paths:
        raise DataError(f"dir:{directory}: no pictures found (looked for "
                        f"{', '.join(files.PICTURE_SUFFIXES)} files, recursively)")
    images = files.load_pictures(paths, size=SIZE, channels=channels, crop=None, tag="images",
                                 source=f"dir:{directory}", progress=progress)
    return ImageFolder(images, f"dir:{directory}")
