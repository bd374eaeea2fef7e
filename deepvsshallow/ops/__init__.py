"""Spatial-transformer ops: affine grids and differentiable image sampling.

Pure JAX (no Flax), NHWC images, torch ``affine_grid`` / ``grid_sample``
semantics; see `deepvsshallow.ops.sampling` for the coordinate conventions.
"""

from deepvsshallow.ops.sampling import PADDING_MODES
from deepvsshallow.ops.sampling import affine_grid
from deepvsshallow.ops.sampling import bilinear_sample
from deepvsshallow.ops.sampling import grid_to_pixels
from deepvsshallow.ops.sampling import nearest_sample
from deepvsshallow.ops.sampling import unnormalize
from deepvsshallow.ops.transforms import affine_matrix
from deepvsshallow.ops.transforms import compose
from deepvsshallow.ops.transforms import theta_from_matrix

__all__ = [
    "PADDING_MODES",
    "affine_grid",
    "affine_matrix",
    "bilinear_sample",
    "compose",
    "grid_to_pixels",
    "nearest_sample",
    "theta_from_matrix",
    "unnormalize",
]
