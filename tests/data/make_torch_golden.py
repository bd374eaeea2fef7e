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
  for padding in ('zeros', 'border', 'reflection'):
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

# Reflection far outside the image (several mirrors on each axis).
far = np.array([[[3.0, 0.4, 0.3], [-0.5, 2.5, -0.7]]], np.float32)
far_images = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
far_cot = rng.standard_normal((1, 2, 6, 8)).astype(np.float32)
out['far/theta'], out['far/images_NCHW'] = far, far_images
out['far/cotangent_NCHW'] = far_cot
for align in (False, True):
  key = f'far_{"ac" if align else "noac"}'
  x = torch.tensor(far_images, requires_grad=True)
  th = torch.tensor(far, requires_grad=True)
  grid = F.affine_grid(th, (1, 2, 6, 8), align_corners=align)
  y = F.grid_sample(x, grid, padding_mode='reflection', align_corners=align)
  (y * torch.tensor(far_cot)).sum().backward()
  out[f'{key}/out'] = y.detach().numpy()
  out[f'{key}/grad_images'] = x.grad.numpy()
  out[f'{key}/grad_theta'] = th.grad.numpy()

# Reflection at the edges of tiny images: points on a mirror, a hair
# either side, many spans away, huge and infinite; one-pixel axes.
edge_x = np.array([-1.0, 1.0, 3.0, -3.0, 1.0000001, -1.0000001, 0.999, 2.2,
                   -7.3, 41.13, -1000.37, 1e5 + 0.25, 4e6, -4e6, 3e7, 1e9,
                   np.inf, -np.inf], np.float32)
out['edge/x'] = edge_x
finite = np.isfinite(edge_x)
for w, h in ((1, 1), (2, 3), (5, 1)):
  image = ((np.arange(h * w, dtype=np.float32) * 1.7 + 1) ** 1.3).reshape(
      1, 1, h, w)
  grid = np.zeros((1, 2, len(edge_x), 2), np.float32)
  grid[0, :, :, 0] = edge_x
  grid[0, 1, :, 1] = 0.7                 # The second row off-centre in y.
  out[f'edge/{w}x{h}/image_NCHW'] = image
  for align in (False, True):
    for mode in ('bilinear', 'nearest'):
      key = f'edge/{w}x{h}/{mode}_{"ac" if align else "noac"}'
      y = F.grid_sample(torch.tensor(image), torch.tensor(grid), mode=mode,
                        padding_mode='reflection', align_corners=align)
      out[f'{key}/out'] = y.numpy()
      # Gradients at the finite points (torch's backward at inf is NaN).
      g = torch.tensor(grid[:, :, finite], requires_grad=True)
      x = torch.tensor(image, requires_grad=True)
      F.grid_sample(x, g, mode=mode, padding_mode='reflection',
                    align_corners=align).sum().backward()
      out[f'{key}/grad_grid'] = g.grad.numpy()
      out[f'{key}/grad_images'] = x.grad.numpy()

# Low-precision inputs (images and grid in the same dtype, as torch needs):
# stored as float32, which holds bfloat16 and float16 values exactly.
low_images = np.round(40 * rng.standard_normal((2, 3, 9, 40))) / 4
low_grid = rng.uniform(-1.1, 1.1, (2, 5, 7, 2))
for name, dt in (('bfloat16', torch.bfloat16), ('float16', torch.float16)):
  x, g = torch.tensor(low_images).to(dt), torch.tensor(low_grid).to(dt)
  out[f'{name}/images_NCHW'] = x.float().numpy()
  out[f'{name}/grid'] = g.float().numpy()
  for padding in ('zeros', 'border', 'reflection'):
    y = F.grid_sample(x, g, padding_mode=padding, align_corners=False)
    out[f'{name}/{padding}/out'] = y.float().numpy()
    # torch in float32 on the same (rounded) values: the precise answer.
    y = F.grid_sample(x.float(), g.float(), padding_mode=padding,
                      align_corners=False)
    out[f'{name}/{padding}/out_float32'] = y.numpy()

# NaN in the grid (documented: read as -1), every padding mode and mode.
nan_images = rng.standard_normal((1, 2, 4, 5)).astype(np.float32)
nan_grid = rng.uniform(-1.2, 1.2, (1, 3, 3, 2)).astype(np.float32)
nan_grid[0, 0, :, 0] = np.nan
nan_grid[0, 1, :, 1] = np.nan
nan_grid[0, 2, 1, :] = np.nan
out['nan/images_NCHW'], out['nan/grid'] = nan_images, nan_grid
for align in (False, True):
  for padding in ('zeros', 'border', 'reflection'):
    for mode in ('bilinear', 'nearest'):
      y = F.grid_sample(torch.tensor(nan_images), torch.tensor(nan_grid),
                        mode=mode, padding_mode=padding, align_corners=align)
      out[f'nan/{mode}_{padding}_{"ac" if align else "noac"}'] = y.numpy()
      # torch 2.13 applies its documented rule only where it clips (border,
      # reflection): with zeros, bilinear gives NaN and nearest 0. The rule
      # itself, from torch: the same grid with NaN replaced by -1.
      y = F.grid_sample(torch.tensor(nan_images),
                        torch.tensor(np.nan_to_num(nan_grid, nan=-1.0)),
                        mode=mode, padding_mode=padding, align_corners=align)
      out[f'nan_as_minus_one/{mode}_{padding}_{"ac" if align else "noac"}'
          ] = y.numpy()

# Empty inputs: the output shapes torch gives (N, C, H_out, W_out).
empty = []
for n, c, h_out, w_out in ((0, 2, 3, 4), (2, 0, 3, 4), (2, 2, 0, 4),
                           (2, 2, 3, 0)):
  y = F.grid_sample(torch.ones(n, c, 5, 6), torch.zeros(n, h_out, w_out, 2),
                    align_corners=False)
  empty.append([n, c, h_out, w_out, *y.shape])
out['empty_shapes'] = np.array(empty)

np.savez(os.path.join(os.path.dirname(__file__), 'torch_grid_sample.npz'),
         **out, torch_version=np.array(torch.__version__))
print('wrote', len(out), 'arrays with torch', torch.__version__)
