from deepvsshallow.ops.sampling import affine_grid, bilinear_sample, nearest_sample
