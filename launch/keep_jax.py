"""pip constraints that keep the JAX a runtime already has (Colab's TPU and
GPU runtimes ship a jax/jaxlib matched to the accelerator; installing this
package must not replace them: flax issues 2950 and 3007).

  python launch/keep_jax.py > /tmp/keep_jax.txt
  pip install -e . -c /tmp/keep_jax.txt

Each installed distribution of JAX's family is pinned to its installed
version, so pip keeps it when it satisfies pyproject.toml's range and says
so (a resolution error naming it) when it does not, instead of silently
swapping it for a CPU build. With no JAX installed the file is empty and pip
installs the pinned range. Standard library only: it runs before the
package is installed.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

# The distributions that make up an accelerator's JAX: jax, jaxlib, and
# any CUDA, ROCm or TPU plugin (jax-cuda12-plugin, jax-cuda12-pjrt,
# jax-rocm7-plugin, libtpu, ...), whatever its version suffix.
JAX_FAMILY = re.compile(r'^(jax|jaxlib|jax-(cuda|rocm)\d*-[a-z]+|libtpu.*)$')


def installed_versions() -> dict[str, str]:
  """{distribution: version} of JAX's family, as installed."""
  found = {}
  for dist in metadata.distributions():
    name = (dist.metadata['Name'] or '').lower().replace('_', '-')
    if JAX_FAMILY.match(name):   # The first on sys.path: the one imported.
      found.setdefault(name, dist.version)
  return found


def constraints(versions: dict[str, str]) -> str:
  """pip constraint lines pinning each given distribution."""
  return ''.join(f'{name}=={version}\n'
                 for name, version in sorted(versions.items()))


def main() -> None:
  versions = installed_versions()
  sys.stdout.write(constraints(versions))
  kept = ', '.join(f'{n} {v}' for n, v in sorted(versions.items()))
  print(f'keeping the installed {kept}' if versions else
        'no JAX installed: pip installs the pinned range', file=sys.stderr)


if __name__ == '__main__':
  main()
