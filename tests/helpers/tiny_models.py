"""A tiny user model for the `splitgym profile MODULE:FACTORY` tests."""

from torch import nn


def tiny_mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 8))
