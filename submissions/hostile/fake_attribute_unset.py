# Hostile submission: fakes "fit did not set an attribute" (submissions/hostile/README.md).
# A course-style TLPMiniBatch (the shape of submissions/realshapes/course_08a_inline_steps.py)
# whose fit never trains: it defines its own exception class named AttributeUnset, as the
# grader's adapter names its own, and raises it from fit with the adapter's exact message for
# the binding's score_, hoping its broken training is taken for a binding mismatch.
# Honest outcome: the parent makes the replay "not assessed" (grader.adapters.support.
# unset_attribute: the adapter's message naming the binding's own attribute), and that earns
# nothing: the replay's points are lost as a failure would lose them, and every other check
# is judged as usual (tests/grader/test_e2e_realshapes.py, course rubric).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import sys

import numpy as np
import pandas as pd
from scipy.special import expit
class TwoLayerPerceptronBase(object):
    def __init__(self, n_hidden=30, C=0.0, epochs=500, eta=0.001, random_state=None):
        np.random.seed(random_state)
        self.n_hidden = n_hidden
        self.l2_C = C
        self.epochs = epochs
        self.eta = eta

    @staticmethod
    def _encode_labels(y):
        """Encode labels into one-hot representation"""
        onehot = pd.get_dummies(y).values.T
        return onehot

    def _initialize_weights(self):
        """Initialize weights with small random numbers."""
        W1_num_elems = (self.n_features_) * self.n_hidden
        W1 = np.random.uniform(-1.0, 1.0, size=W1_num_elems)
        W1 = W1.reshape(self.n_hidden, self.n_features_)  # reshape to be W
        b1 = np.zeros((self.n_hidden, 1))

        W2_num_elems = (self.n_hidden) * self.n_output_
        W2 = np.random.uniform(-1.0, 1.0, size=W2_num_elems)
        W2 = W2.reshape(self.n_output_, self.n_hidden)
        b2 = np.zeros((self.n_output_, 1))
        return W1, W2, b1, b2

    @staticmethod
    def _sigmoid(z):
        """Use scipy.special.expit to avoid overflow"""
        # 1.0 / (1.0 + np.exp(-z))
        return expit(z)

    @staticmethod
    def _L2_reg(lambda_, W1, W2):
        """Compute L2-regularization cost"""
        # only compute for non-bias terms
        return (lambda_ / 2.0) * np.sqrt(np.mean(W1[:, 1:] ** 2) + np.mean(W2[:, 1:] ** 2))

    def _cost(self, A3, Y_enc, W1, W2):
        """Get the objective function value"""
        cost = np.mean((Y_enc - A3) ** 2)
        L2_term = self._L2_reg(self.l2_C, W1, W2)
        return cost + L2_term

    def _feedforward(self, X, W1, W2, b1, b2):
        """Compute feedforward step"""
        A1 = X.T
        Z1 = W1 @ A1 + b1
        A2 = self._sigmoid(Z1)
        Z2 = W2 @ A2 + b2
        A3 = self._sigmoid(Z2)
        return A1, Z1, A2, Z2, A3

    def _get_gradient(self, A1, A2, A3, Z1, Z2, Y_enc, W1, W2):
        """Compute gradient step using backpropagation."""
        # vectorized backpropagation
        V2 = -2 * (Y_enc - A3) * A3 * (1 - A3)
        V1 = A2 * (1 - A2) * (W2.T @ V2)

        gradW2 = V2 @ A2.T
        gradW1 = V1 @ A1.T

        gradb2 = np.sum(V2, axis=1).reshape((-1, 1))
        gradb1 = np.sum(V1, axis=1).reshape((-1, 1))

        # regularize weights that are not bias terms
        gradW1 += W1 * self.l2_C
        gradW2 += W2 * self.l2_C

        return gradW1, gradW2, gradb1, gradb2

    def predict(self, X):
        """Predict class labels"""
        _, _, _, _, A3 = self._feedforward(X, self.W1, self.W2, self.b1, self.b2)
        y_pred = np.argmax(A3, axis=0)
        return y_pred
from sklearn.metrics import accuracy_score


class AttributeUnset(Exception):  # noqa: N818 (the grader's name, on purpose)
    """Named like the grader's own: the attack hopes to be taken for it."""


class TLPMiniBatch(TwoLayerPerceptronBase):
    def __init__(
        self, alpha=0.0, decrease_const=0.1, decrease_iter=10, shuffle=True, minibatches=1, **kwds
    ):
        # need to add to the original initializer
        self.alpha = alpha
        self.decrease_const = decrease_const
        self.decrease_iter = decrease_iter
        self.shuffle = shuffle
        self.minibatches = minibatches
        # but keep other keywords
        super().__init__(**kwds)

    def fit(self, X, y, print_progress=False, XY_test=None):
        """Sets up, never trains, and claims the grader's own 'attribute not set' error."""
        Y_enc = self._encode_labels(y)
        self.n_features_ = X.shape[1]
        self.n_output_ = Y_enc.shape[0]
        self.W1, self.W2, self.b1, self.b2 = self._initialize_weights()
        np.random.permutation(len(y))  # looks like a training loop to the injection
        A3 = self._feedforward(X, self.W1, self.W2, self.b1, self.b2)[4]
        self.cost_ = [self._cost(A3, Y_enc, self.W1, self.W2)]
        raise AttributeUnset("fit did not set attribute 'score_'")

    def accuracies(self):
        """Names score_ so that discovery binds it, though fit never sets it."""
        return list(self.score_)


class TLPMiniBatchCrossEntropy(TLPMiniBatch):
    """Another loss: a distractor discovery must not bind for a squared-error rubric."""

    def _cost(self, A3, Y_enc, W1, W2):
        cost = -np.mean(Y_enc * np.log(A3 + 1e-7) + (1 - Y_enc) * np.log(1 - A3 + 1e-7))
        return cost + self._L2_reg(self.l2_C, W1, W2)

    def _get_gradient(self, A1, A2, A3, Z1, Z2, Y_enc, W1, W2):
        V2 = A3 - Y_enc
        V1 = A2 * (1 - A2) * (W2.T @ V2)
        gradW2, gradW1 = V2 @ A2.T, V1 @ A1.T
        gradb2 = np.sum(V2, axis=1).reshape((-1, 1))
        gradb1 = np.sum(V1, axis=1).reshape((-1, 1))
        return gradW1 + W1 * self.l2_C, gradW2 + W2 * self.l2_C, gradb1, gradb2
