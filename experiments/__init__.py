"""Experiments and the ``splitgym`` command line (`splitgym.experiments.cli`)."""
