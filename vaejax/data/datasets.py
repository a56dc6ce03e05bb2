"""Every dataset by name: ``config.dataset`` picks one, ``config.data_source`` says where
its files are.

==================  ======================================  =================
name                sources                                  factors
==================  ======================================  =================
``dsprites``        simulated, npz:, hdf5:, tfds, sample:N   5 (+ colour)
``color_dsprites``  as dsprites                              5
``noisy_dsprites``  as dsprites                              5
``scream_dsprites`` as dsprites, and/or ``image:PATH``       5
``shapes3d``        hdf5:, npz:, tfds                        6
``mpi3d``           npz:                                     7
``smallnorb``       dir:, tfds                               4 (+ instance)
``cars3d``          dir:                                     3
``celeba``          dir:, tfds                               none
``images``          dir:                                     none
==================  ======================================  =================

The scream background and the dSprites source combine with ``+``:
``sample:2048+image:scream.jpg``; ``image:PATH`` alone reads the simulated
dSprites.
"""

from __future__ import annotations

from vaejax.data import (cars3d, celeba, color_dsprites, dsprites, image_folder, mpi3d,
                         noisy_dsprites, scream_dsprites, shapes3d, smallnorb)
from vaejax.data.ground_truth import Dataset, GroundTruthData
from vaejax.errors import ConfigError

CLASSES: dict[str, type[Dataset]] = {
    "dsprites": dsprites.DSpritesData,
    "color_dsprites": color_dsprites.ColorDSprites,
    "noisy_dsprites": noisy_dsprites.NoisyDSprites,
    "scream_dsprites": scream_dsprites.ScreamDSprites,
    "shapes3d": shapes3d.Shapes3D,
    "mpi3d": mpi3d.MPI3D,
    "smallnorb": smallnorb.SmallNORB,
    "cars3d": cars3d.Cars3D,
    "celeba": celeba.CelebA,
    "images": image_folder.ImageFolder,
}
NAMES = tuple(CLASSES)
DSPRITES_FAMILY = ("dsprites", "color_dsprites", "noisy_dsprites", "scream_dsprites")
_LOADERS = dict(shapes3d=shapes3d.load, mpi3d=mpi3d.load, smallnorb=smallnorb.load,
                cars3d=cars3d.load, celeba=celeba.load)


def dataset_class(name: str) -> type[Dataset]:
    """The class of dataset ``name`` (its factors and shape, without loading it)."""
    if name not in CLASSES:
        raise ConfigError(f"config.dataset must be one of {NAMES}, got {name!r}")
    return CLASSES[name]


def config_dataset(config) -> str:
    """``config.dataset`` (``dsprites`` for configs saved before the field existed)."""
    return config.get("dataset", "dsprites")


def image_channels(config) -> int:
    return int(config.get("image_channels", 3))


def observation_shape(config) -> tuple[int, int, int]:
    """(H, W, C) of ``config.dataset``'s observations, known without loading the data."""
    name = config_dataset(config)
    if name == "images":
        return (image_folder.SIZE, image_folder.SIZE, image_channels(config))
    return tuple(dataset_class(name).observation_shape)


def has_factors(name: str) -> bool:
    return dataset_class(name).has_factors


def scored_factor_names(name: str) -> tuple[str, ...]:
    """Names of the factors the metrics score (and DC-IGN supervises) for ``name``."""
    cls = dataset_class(name)
    if not cls.has_factors:
        return ()
    return tuple(cls.factor_names[i] for i in cls.scored_factors())


def max_value(config) -> int:
    """The stored byte of intensity 1 in ``config.dataset``'s batches (1 or 255)."""
    return dataset_class(config_dataset(config)).max_value


def split_dsprites_source(source: str) -> tuple[str, str | None]:
    """A dSprites-family ``data_source`` -> (the dSprites source, the scream picture's path
    or None): ``sample:2048+image:scream.jpg`` -> (``sample:2048``, ``scream.jpg``);
    ``image:PATH`` alone reads the simulated dSprites."""
    parts = [p for p in source.split("+") if p]
    images = [p.removeprefix("image:") for p in parts if p.startswith("image:")]
    others = [p for p in parts if not p.startswith("image:")]
    if len(images) > 1 or len(others) > 1:
        raise ConfigError(f"config.data_source {source!r} names more than one "
                          f"{'image' if len(images) > 1 else 'dSprites source'}")
    return (others[0] if others else "simulated"), (images[0] if images else None)


def dsprites_family(name: str, dsprites_source: str | None, *, image: str | None = None,
                    seed: int = 0, progress: bool = True):
    """dSprites or a variant from a dSprites source (None: the renderer draws every
    image, nothing to train on) and, for scream_dsprites, the background's path."""
    if image is not None and name != "scream_dsprites":
        raise ConfigError(f"'image:{image}' is the background of scream_dsprites only, "
                          f"not of {name}")
    data = dsprites.load(dsprites_source, progress=progress) if dsprites_source else None
    if name == "scream_dsprites":
        background = scream_dsprites.load_background(image) if image else None
        return scream_dsprites.ScreamDSprites(data, background=background,
                                              background_source=f"image:{image}", seed=seed)
    return CLASSES[name](data, seed=seed)


def load(name: str, source: str | None, *, channels: int = 3, seed: int = 0,
         progress: bool = True) -> Dataset:
    """Dataset ``name`` from ``source`` (a ``config.data_source`` string).

    For the dSprites family, ``source`` None gives a dataset whose images the
    renderer draws on demand (enough for the metrics, nothing to train on).
    ``seed`` seeds the colours or noise a dSprites variant draws when not
    given a generator; ``channels`` is the ``images`` dataset's (1 or 3).
    """
    dataset_class(name)
    if name in DSPRITES_FAMILY:
        if source is None:
            return dsprites_family(name, None, seed=seed, progress=progress)
        dsprites_source, image = split_dsprites_source(source)
        return dsprites_family(name, dsprites_source, image=image, seed=seed, progress=progress)
    if source is None:
        raise ConfigError(f"the {name} dataset needs config.data_source (see docs/data.md)")
    if name == "images":
        return image_folder.load(source, channels=channels, progress=progress)
    return _LOADERS[name](source, progress=progress)


def from_config(config, *, progress: bool = True) -> Dataset:
    """The dataset a run's config trains on."""
    return load(config_dataset(config), config.data_source, channels=image_channels(config),
                seed=config.data_seed, progress=progress)


def ground_truth(name: str, source: str | None, *, seed: int = 0,
                 progress: bool = True) -> GroundTruthData:
    """A dataset with factors for the metrics; a ConfigError when ``name`` has none."""
    if not has_factors(name):
        raise ConfigError(f"the {name} dataset has no ground-truth factors: the metrics, "
                          "DC-IGN and the metric table need one with factors")
    return load(name, source, seed=seed, progress=progress)
