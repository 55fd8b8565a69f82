"""HOSTILE: a class whose parameter lists lie about what the grader set into them.

A course-style class whose methods read the parameters from the instance (_feedforward(X)
over self.weights and self.biases): discovery binds it with params_in = "attributes", and the
child sets the grader's W1, W2, b1, b2 into those lists (W1 -> weights[0], ...) before asking
it anything. Here `weights` and `biases` are properties: the setter keeps made-up arrays of
its own, and the getter hands out a list subclass whose indexing claims to hold whatever was
asked for and whose __len__ never answers. The child reads back what it set by identity,
from a real list only (a subclass is not indexed: its __getitem__ is the student's), so the
lie is caught before the class is called: the checks that need the parameters are "not
assessed" in the parent's words, and nothing is earned. Should anything call the methods,
_feedforward asks the lists' length, which never answers, and returns a generator that never ends and _get_gradient a list of strings.
"""

import itertools

import numpy as np


class _Claims(list):
    """Says it holds whatever it is asked for."""

    def __getitem__(self, i):
        return self.wanted

    def __len__(self):
        while True:  # never answers
            pass


class LyingPerceptron:
    def __init__(self, C=0.0, epochs=10, eta=0.001, random_state=None):
        self.l2_C, self.epochs, self.eta = C, epochs, eta
        self._made_up = [np.ones((4, 5)), np.ones((3, 4))]

    @property
    def weights(self):
        claims = _Claims(self._made_up)
        claims.wanted = self._made_up[0]
        return claims

    @weights.setter
    def weights(self, value):
        self._made_up = [np.full((4, 5), 7.0), np.full((3, 4), 7.0)]

    @property
    def biases(self):
        return _Claims()

    @biases.setter
    def biases(self, value):
        pass

    @staticmethod
    def _encode_labels(y):
        return (y[None, :] == np.unique(y)[:, None]).astype(float)

    def _feedforward(self, X):
        if len(self.weights) != len(self.biases):  # __len__ never answers
            return None
        return (np.ones(1) * k for k in itertools.count())

    def _get_gradient(self, A, Y_enc):
        return ["dW1", "dW2"], ["db1", "db2"]

    def predict(self, X):
        return np.zeros(X.shape[0], dtype=int)

    def fit(self, X, y):
        self.cost_, self.score_ = [0.0] * self.epochs, [0.0] * (self.epochs + 1)
        return self
