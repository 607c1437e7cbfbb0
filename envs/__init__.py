"""The splitgym environments.

``import splitgym`` (or ``import splitgym.envs``) registers ``splitgym/EdgeCloud-v0``
and the preset ids; then::

    env = gymnasium.make("splitgym/EdgeCloud-v0", model="alexnet", bandwidth_mbps="3g")

(or, with no import, ``gymnasium.make("splitgym.envs:splitgym/EdgeCloud-v0")``).
The simulator core, `splitgym.envs.core`, imports no gymnasium.
"""

from __future__ import annotations

ENV_ID = "splitgym/EdgeCloud-v0"


def register_envs() -> None:
    """Register the splitgym ids with Gymnasium (idempotent): the base id and one per
    scenario preset (``splitgym/EdgeCloud-CellularMarkov-v0``, ...)."""
    import gymnasium as gym

    from .scenarios import SCENARIOS, env_id

    entry = "splitgym.envs.edge_cloud:EdgeCloudEnv"
    vector = "splitgym.envs.vector:EdgeCloudVectorEnv"
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point=entry, vector_entry_point=vector)
    for name in SCENARIOS:
        if env_id(name) not in gym.registry:
            gym.register(id=env_id(name), entry_point=entry, vector_entry_point=vector,
                         kwargs={"scenario": name})


try:  # the core works without gymnasium; the env and the registration need it
    import gymnasium as _gym  # noqa: F401
except ImportError:  # pragma: no cover - gymnasium is a dependency
    pass
else:
    register_envs()
    from .edge_cloud import EdgeCloudEnv  # noqa: E402
    from .rollout import Episode, rollout  # noqa: E402

    __all__ = ["ENV_ID", "EdgeCloudEnv", "Episode", "register_envs", "rollout"]
