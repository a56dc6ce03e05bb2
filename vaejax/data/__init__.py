"""dSprites: factor space, renderer, data sources, input pipeline, corruptions."""

from vaejax.data.dsprites import (DataError, DSprites, default_cache_dir, load,
                                  load_hdf5, load_npz, load_tfds, simulated)
from vaejax.data.factors import (FACTOR_BASES, FACTOR_NAMES, FACTOR_SIZES, NUM_IMAGES,
                                 SHAPE_NAMES, classes_to_index, classes_to_values,
                                 factor_values, index_to_classes)
from vaejax.data.pipeline import GroundTruth, ShuffledBatches, to_float
from vaejax.data.renderer import render, render_values

__all__ = [
    "DataError", "DSprites", "default_cache_dir", "load", "load_hdf5", "load_npz",
    "load_tfds", "simulated", "FACTOR_BASES", "FACTOR_NAMES", "FACTOR_SIZES",
    "NUM_IMAGES", "SHAPE_NAMES", "classes_to_index", "classes_to_values",
    "factor_values", "index_to_classes", "GroundTruth", "ShuffledBatches", "to_float",
    "render", "render_values",
]
