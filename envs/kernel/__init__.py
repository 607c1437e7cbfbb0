"""The compiled engine's kernel (numba), one module per concern; `splitgym.envs.fast` is
its public face and lists them. Every module opens with what it owns; the state layout
is in `layout`."""
