"""Hostile: classes built to win binding by discovery and earn points without a network.

Forty decoy classes each offer every method name and constructor keyword the course's
style looks for (so each ranks above any honest class by names), return plausible shapes
of zeros, lie in their signatures (``__signature__`` set on fit), and one has thousands of
methods to swell the inventory. Expected: discovery keeps whichever explains the evidence
best, the rubric's checks still compare every answer with the reference, and the score
is 0 (submissions/hostile/README.md; tests/grader/test_e2e_realshapes.py).
"""

import inspect

import numpy as np


def _zeros_forward(self, X, W1, W2, b1=None, b2=None):
    N = np.asarray(X).shape[0]
    A3 = np.full((np.asarray(W2).shape[0], N), 0.5)
    return X.T, A3, A3, A3, A3


def _zeros_gradient(self, A1, A2, A3, Z1, Z2, Y_enc, W1, W2):
    return np.zeros_like(W1), np.zeros_like(W2), np.zeros((W1.shape[0], 1)), np.zeros((W2.shape[0], 1))


def _init(
    self, n_hidden=3, C=0.0, epochs=1, eta=0.1, alpha=0.0, decrease_const=0.0,
    decrease_iter=1, minibatches=1, shuffle=True, random_state=None, **kwds,
):
    self.eta = eta


def _fit(self, X, y):
    self.cost_, self.score_ = [0.0], [1.0, 1.0]
    return self


_fit.__signature__ = inspect.Signature()  # a lie: fit claims to take nothing

_BODY = {
    "__init__": _init,
    "_feedforward": _zeros_forward,
    "_get_gradient": _zeros_gradient,
    "_cost": lambda self, A3, Y_enc, W1, W2: 0.0,
    "predict": lambda self, X: np.zeros(len(X), dtype=int),
    "_encode_labels": staticmethod(lambda y: np.zeros((1, len(y)))),
    "_learning_rate_update": lambda self, epoch: 1.0,
    "_momentum_update": lambda self, eta, *grads: None,
    "_initialize_weights": lambda self: (np.zeros((1, 1)),) * 4,
    "fit": _fit,
}

for _i in range(40):
    globals()[f"TLPMiniBatch{_i}"] = type(f"TLPMiniBatch{_i}", (), dict(_BODY))

# one class whose listing alone would swell the inventory past its caps
Huge = type("Huge", (), {**_BODY, **{f"m{i}": (lambda self: None) for i in range(5000)}})
