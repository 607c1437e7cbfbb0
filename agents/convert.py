"""``python -m splitgym.agents.convert IN OUT [--algo ALGO]``: add the plain data
splitgym loads (``splitgym.json``, ``.npy`` entries: the weights and optimizer state
too) to an SB3 model zip, or an older splitgym zip, that lacks it, every original entry
kept byte for byte. IN is *unpickled* here (SB3's own way, its ``.pth`` entries by
``torch.load``): run it only on a file you trust, once; OUT then loads without any
unpickler (`splitgym.agents.safe_load`)."""

from __future__ import annotations

from .safe_load import _main

if __name__ == "__main__":
    _main()
