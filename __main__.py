"""``python -m splitgym``: the ``splitgym`` command line (`splitgym.experiments.cli`)."""

from splitgym.experiments.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
