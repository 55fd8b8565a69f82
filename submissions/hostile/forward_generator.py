"""HOSTILE: a forward pass that returns a generator that never ends, and gradients that are
not arrays, in the shape of a class keeping its parameters in lists.

Discovery binds it with params_in = "attributes" (its _feedforward takes X alone and its
code names self.weights and self.biases); the child sets plain lists, which it holds. Its
_feedforward then returns an endless generator: the child never iterates what a forward pass
returns unless it is a list or a tuple, so the forward checks fail at once, saying what came
back, and grading ends. Its _get_gradient returns two lists of strings: refused as
non-numbers. Nothing is earned but what honest code earns (the one-hot encoding).
"""

import itertools

import numpy as np


class EndlessPerceptron:
    def __init__(self, C=0.0, epochs=10, eta=0.001, random_state=None):
        self.l2_C, self.epochs, self.eta = C, epochs, eta
        self.weights, self.biases = [], []

    @staticmethod
    def _encode_labels(y):
        return (y[None, :] == np.unique(y)[:, None]).astype(float)

    def _feedforward(self, X):
        return (np.ones((3, X.shape[0])) * k for k in itertools.count())

    def _get_gradient(self, A, Y_enc):
        return ["dW1", "dW2"], ["db1", "db2"]

    def predict(self, X):
        return np.argmax(next(self._feedforward(X)), axis=0)

    def fit(self, X, y):
        self.cost_, self.score_ = [0.0] * self.epochs, [0.0] * (self.epochs + 1)
        return self
