"""Learned schedulers: stable-baselines3 agents trained on splitgym.

`splitgym.agents.train` (``splitgym train``) trains one run folder per run;
`load_pretrained(model, bandwidth)` returns a shipped agent as a policy callable
``policy(obs, info) -> cut`` like the baselines'; `LearnedPolicy.load(path)` does the
same for any run folder or model zip. Agent files load without running code from them
(`splitgym.agents.safe_load`); ``trust=True`` asks for SB3's full unpickling.
"""

from .policy import LearnedPolicy, available_pretrained, load_pretrained
from .safe_load import AgentChecksumError, AgentFileError, AgentMismatchError, AgentModelWarning

__all__ = ["AgentChecksumError", "AgentFileError", "AgentMismatchError", "AgentModelWarning",
           "LearnedPolicy", "available_pretrained", "load_pretrained"]
