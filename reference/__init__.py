"""The course's multi-layer perceptron in numpy: the trusted side of the grader.

Everything a student submission is compared with is computed here: forward
passes, exact gradients of a declared objective, optimiser and learning-rate
trajectories, deterministic convergence traces, and named buggy variants
("misconceptions") used for diagnosis. This package never imports ``grader``.
"""

__version__ = "0.1.0"
