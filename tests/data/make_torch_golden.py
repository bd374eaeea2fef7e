"""Writes torch_grid_sample.npz: PyTorch's affine_grid/grid_sample outputs and
gradients on small random inputs, so CI (which has no torch) still checks
`deepvsshallow.ops` against PyTorch.

  pip install torch==2.13.0 && python tests/data/make_torch_golden.py
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(0)
images = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)  # NCHW.
theta = (np.eye(2, 3)[None] + 0.4 * rng.standard_normal((2, 2, 3))
         ).astype(np.float32)
theta[1, :, 2] += 1.3  # Push part of the grid outside the image.
cotangent = rng.standard_normal((2, 3, 4, 7)).astype(np.float32)
out = {'images_NCHW': images, 'theta': theta, 'cotangent_NCHW': cotangent}
for align in (False, True):
  for padding in ('zeros', 'border'):
    for mode in ('bilinear', 'nearest'):
      key = f'{mode}_{padding}_{"ac" if align else "noac"}'
      x = torch.tensor(images, requires_grad=True)
      th = torch.tensor(theta, requires_grad=True)
      grid = F.affine_grid(th, (2, 3, 4, 7), align_corners=align)
      y = F.grid_sample(x, grid, mode=mode, padding_mode=padding,
                        align_corners=align)
      (y * torch.tensor(cotangent)).sum().backward()
      out[f'{key}/grid'] = grid.detach().numpy()
      out[f'{key}/out'] = y.detach().numpy()
      out[f'{key}/grad_images'] = x.grad.numpy()
      out[f'{key}/grad_theta'] = th.grad.numpy()
np.savez(os.path.join(os.path.dirname(__file__), 'torch_grid_sample.npz'),
         **out, torch_version=np.array(torch.__version__))
print('wrote', len(out), 'arrays with torch', torch.__version__)
