"""Headless Chromium for the page tests: which images a page decoded, and a
screenshot. Debian's `chromium` (.ci/run installs it when it can);
`executable()` is None where there is none, and the tests skip saying so.

Flags: --no-sandbox (CI runs as root, where Chromium's sandbox refuses to
start), a throwaway profile per call, and no GPU."""

import html
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

# What a probe script leaves on <body>, as JSON, for the dumped DOM.
_MARKER = 'data-probe'

# Once the page has loaded: [complete, naturalWidth, naturalHeight] of
# every <img>, in document order.
IMAGES = ('JSON.stringify(Array.from(document.images, i => [i.complete, '
          'i.naturalWidth, i.naturalHeight]))')


def executable() -> str | None:
  for name in ('chromium', 'chromium-browser', 'google-chrome'):
    path = shutil.which(name)
    if path:
      return path
  return None


def _run(*args: str, timeout: float = 120) -> str:
  with tempfile.TemporaryDirectory() as profile:
    proc = subprocess.run(
        [executable(), '--headless', '--no-sandbox', '--disable-gpu',
         '--disable-dev-shm-usage', '--hide-scrollbars',
         f'--user-data-dir={profile}', *args],
        capture_output=True, text=True, timeout=timeout)
  if proc.returncode != 0:
    raise RuntimeError(f'chromium exited {proc.returncode}: '
                       f'{proc.stderr[-2000:]}')
  return proc.stdout


def probe(page: str, expression: str, scratch: str, act: str = '',
          wait_ms: int = 0) -> object:
  """The JSON value of the JavaScript `expression` (a JSON string),
  evaluated on `page` (an HTML file) `wait_ms` after its load event and
  the statement `act` (what a reader would do: click): a copy with a probe
  script added is loaded and its DOM dumped. The page itself runs no
  script."""
  with open(page, encoding='utf-8') as f:
    text = f.read()
  assert text.count('</body>') == 1, page
  script = (f'<script>window.addEventListener("load", () => {{ {act}; '
            f'setTimeout(() => document.body.setAttribute("{_MARKER}", '
            f'{expression}), {wait_ms}); }});</script>')
  probed = os.path.join(scratch, 'probed.html')
  with open(probed, 'w', encoding='utf-8') as f:
    f.write(text.replace('</body>', script + '</body>'))
  dom = _run('--virtual-time-budget=10000', '--dump-dom',
             f'file://{os.path.abspath(probed)}')
  start = dom.find(f'{_MARKER}="')
  assert start >= 0, f'the probe did not run: {dom[:300]!r}'
  start += len(_MARKER) + 2
  return json.loads(html.unescape(dom[start:dom.index('"', start)]))


def decoded_images(page: str, scratch: str) -> list[tuple[bool, int, int]]:
  """[complete, naturalWidth, naturalHeight] of every <img> on `page`, as
  Chromium decoded them."""
  return [tuple(i) for i in probe(page, IMAGES, scratch)]


def screenshot(page: str, png: str, width: int = 1280,
               height: int = 1600) -> np.ndarray:
  """Writes a `width` x `height` screenshot of the top of `page` to `png`;
  returns it as greyscale 0..255."""
  from PIL import Image
  _run(f'--window-size={width},{height}', f'--screenshot={png}',
       f'file://{os.path.abspath(page)}')
  with Image.open(png) as image:
    return np.asarray(image.convert('L'), dtype=np.float64)


def inked(grey: np.ndarray) -> float:
  """The share of pixels that differ from the most common one (the
  background): 0 for a blank screenshot."""
  values, counts = np.unique(grey.round(), return_counts=True)
  return float(np.mean(np.abs(grey - values[counts.argmax()]) > 8))
