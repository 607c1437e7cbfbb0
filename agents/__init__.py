"""Learned schedulers (stable-baselines3): training, evaluation and pretrained agents.

Nothing here yet: agents arrive with the learned-schedulers work.
"""
