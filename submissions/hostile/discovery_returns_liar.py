"""HOSTILE: lies to discovery's reading of what methods return (runner.returned_sizes).

The child reads, from bytecode, how many values each method's ``return`` builds, and
discovery binds the textbook's forward by that count (the 4th edition returns a_h, a_out).
Here ``forward`` is a descriptor carrying another function's ``__code__`` (which returns two
values) while the method it hands out returns five made-up arrays; ``backward`` answers
zeros; and a method with thousands of return statements swells the bytecode to scan.
Whatever binding this buys, every check compares the answers with the reference's: no
point is earned, and the scan of the large method ends quickly (its sizes are capped).
"""

import inspect

import numpy as np


def _two_values(self, x):
    a_h = a_out = x
    return a_h, a_out


class _Forward:
    """Looks like a method returning two values to anything that reads ``__code__``."""

    __code__ = _two_values.__code__
    __signature__ = inspect.signature(_two_values)

    def __call__(self, x):
        return x, x

    def __get__(self, obj, owner):
        return lambda x: tuple(np.full((len(x), 3), 0.5) for _ in range(5))


def _many_returns():
    """A method of 4,000 return statements of 1 to 9 values (built in the class body, which
    the grader's definitions mode runs)."""
    source = "def many(self, x):\n" + "".join(
        f"    if x == {i}:\n        return " + ", ".join(["x"] * (i % 9 + 1)) + "\n"
        for i in range(4000)
    )
    space = {}
    exec(source, space)
    return space["many"]


class NeuralNetMLP:
    forward = _Forward()
    many = _many_returns()

    def __init__(self, num_features=5, num_hidden=4, num_classes=3, l2=0.0):
        self.weight_h = np.zeros((num_hidden, num_features))
        self.bias_h = np.zeros(num_hidden)
        self.weight_out = np.zeros((num_classes, num_hidden))
        self.bias_out = np.zeros(num_classes)

    def backward(self, x, a_h, a_out, y):
        return (
            np.zeros_like(self.weight_out),
            np.zeros_like(self.bias_out),
            np.zeros_like(self.weight_h),
            np.zeros_like(self.bias_h),
        )

    def _compute_cost(self, y_enc, output):
        return 0.0
