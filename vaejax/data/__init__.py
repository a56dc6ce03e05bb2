"""Datasets: the interface (:mod:`~vaejax.data.ground_truth`), one module per dataset
(dSprites and its variants, Shapes3D, MPI3D, SmallNORB, Cars3D, CelebA, any
picture folder), the registry (:mod:`~vaejax.data.datasets`), the input
pipeline and corruptions."""

from vaejax.data.dsprites import (DataError, DSprites, DSpritesData, default_cache_dir, load,
                                  load_hdf5, load_npz, load_tfds, simulated)
from vaejax.data.factors import (FACTOR_BASES, FACTOR_NAMES, FACTOR_SIZES, NUM_IMAGES,
                                 SHAPE_NAMES, classes_to_index, classes_to_values,
                                 factor_values, index_to_classes)
from vaejax.data.ground_truth import Dataset, GroundTruthData, ImageData
from vaejax.data.pipeline import GroundTruth, ShuffledBatches, to_float
from vaejax.data.renderer import render, render_values
from vaejax.data import datasets

__all__ = [
    "DataError", "DSprites", "DSpritesData", "default_cache_dir", "load", "load_hdf5",
    "load_npz", "load_tfds", "simulated", "FACTOR_BASES", "FACTOR_NAMES", "FACTOR_SIZES",
    "NUM_IMAGES", "SHAPE_NAMES", "classes_to_index", "classes_to_values",
    "factor_values", "index_to_classes", "Dataset", "GroundTruthData", "ImageData",
    "GroundTruth", "ShuffledBatches", "to_float", "render", "render_values", "datasets",
]
