# Hostile submission: claims signatures its methods do not have (submissions/hostile/README.md).
# A course-style class whose `_get_gradient` carries a `__signature__` of three parameters and
# whose `_cost` is a descriptor carrying the `__code__` of a two-parameter function, while both
# raise the TypeError Python gives for too many arguments: hoping the parent, which decides a
# binding mismatch from what the child lists of the class's parameters, reads those claims and
# reports the checks "not assessed" instead of failed.
# Honest outcome: the child lists a method's parameters from its code object, not from
# `__signature__`, and what a descriptor's `__code__` claims binds discovery but decides no
# mismatch (grader/sandbox/child/runner.py, grader/adapters/support.py): grad_output and cost
# fail ("your code raised TypeError"); the forward pass, written honestly, passes. Under the
# template rubric (functions) nothing is bound: every check is not assessed.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import inspect

import numpy as np


def _three(self, A1, A2):
    """The parameters `_get_gradient` claims to have."""


def _two(self, A3):
    """The parameters `_cost` claims to have."""


def _refuse(*args):
    raise TypeError(f"_get_gradient() takes 3 positional arguments but {len(args)} were given")


class _Cost:
    """A method to anything that reads `__code__`: two parameters; the call raises."""

    __code__ = _two.__code__
    __signature__ = inspect.signature(_two)

    def __get__(self, obj, owner):
        def cost(*args):
            raise TypeError(f"_cost() takes 2 positional arguments but {len(args) + 1} were given")

        return cost


class TLPMiniBatch:
    def __init__(
        self,
        n_hidden=30,
        C=0.0,
        epochs=500,
        eta=0.001,
        random_state=None,
        alpha=0.0,
        decrease_const=0.1,
        decrease_iter=10,
        shuffle=True,
        minibatches=1,
    ):
        self.n_hidden, self.l2_C, self.epochs, self.eta = n_hidden, C, epochs, eta
        self.alpha, self.decrease_const, self.decrease_iter = alpha, decrease_const, decrease_iter
        self.shuffle, self.minibatches = shuffle, minibatches

    @staticmethod
    def _sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def _feedforward(self, X, W1, W2, b1, b2):
        A1 = X.T
        Z1 = W1 @ A1 + b1
        A2 = self._sigmoid(Z1)
        Z2 = W2 @ A2 + b2
        A3 = self._sigmoid(Z2)
        return A1, Z1, A2, Z2, A3

    def _get_gradient(self, A1, A2, A3, Z1, Z2, Y_enc, W1, W2):
        _refuse(self, A1, A2, A3, Z1, Z2, Y_enc, W1, W2)

    _get_gradient.__signature__ = inspect.signature(_three)

    _cost = _Cost()
