"""``python -m grader``: the same command line as the ``grader`` script."""

from grader.cli import run

# Guarded: batch workers start by importing the parent's __main__ (multiprocessing).
if __name__ == "__main__":
    run()
