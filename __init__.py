"""splitgym: a Gymnasium environment of multi-edge / single-cloud split DNN inference.

Subpackages: `splitgym.envs` (the simulator core and the Gymnasium env),
`splitgym.profiles` (per-layer cost profiles and cuts), `splitgym.baselines` (the
paper's schedulers), `splitgym.agents` (learned schedulers), `splitgym.experiments`
(the ``splitgym`` command line).
"""

__version__ = "0.1.0"
