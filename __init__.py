"""splitgym: a Gymnasium environment of multi-edge / single-cloud split DNN inference.

``import splitgym`` registers the Gymnasium ids (``splitgym/EdgeCloud-v0`` and one per
scenario preset); it imports gymnasium and numpy, not torch. Subpackages:
`splitgym.envs` (the simulator core and the Gymnasium env), `splitgym.profiles`
(per-layer cost profiles and cuts), `splitgym.baselines` (the paper's schedulers),
`splitgym.agents` (learned schedulers), `splitgym.experiments` (the ``splitgym``
command line, also ``python -m splitgym``).
"""

__version__ = "0.1.0"  # = pyproject.toml's version (tests/test_interop.py checks)

from . import envs as envs  # noqa: E402  (registers the ids; needs no torch)
