"""Learned schedulers: stable-baselines3 agents trained on splitgym.

`splitgym.agents.train` (``splitgym train``) trains one run folder per run;
`load_pretrained(model, bandwidth)` returns a shipped agent as a policy callable
``policy(obs, info) -> cut`` like the baselines'; `LearnedPolicy.load(path)` does the
same for any run folder or model zip.
"""

from .policy import LearnedPolicy, available_pretrained, load_pretrained

__all__ = ["LearnedPolicy", "available_pretrained", "load_pretrained"]
