"""Our re-creation of the textbook's 1st-edition API shape (submissions/realshapes/README.md):
NeuralNetMLP(n_output, n_features, ...) whose constructor requires the sizes and draws the
weights; each weight matrix w1 (H, D+1), w2 (K, H+1) holds its bias in column 0;
_feedforward(X, w1, w2) takes the weights as arguments and returns a1, z2, a2, z3, a3 (z
numbered by the activation it feeds, instances as columns after the input);
_get_gradient(a1, a2, a3, z2, y_enc, w1, w2), _get_cost(y_enc, output, w1, w2) and
_encode_labels(y, k) -> (k, N). Cross-entropy with sigmoid outputs, an L2 (and L1) penalty
on the non-bias columns; momentum and a decreasing rate inline in fit. Written for this
corpus from what that shape computes; no third-party code is copied.
"""

import numpy as np


class NeuralNetMLP(object):
    def __init__(
        self,
        n_output,
        n_features,
        n_hidden=30,
        l1=0.0,
        l2=0.0,
        epochs=500,
        eta=0.001,
        alpha=0.0,
        decrease_const=0.0,
        shuffle=True,
        minibatches=1,
        random_state=None,
    ):
        np.random.seed(random_state)
        self.n_output, self.n_features, self.n_hidden = n_output, n_features, n_hidden
        self.w1, self.w2 = self._initialize_weights()
        self.l1, self.l2 = l1, l2
        self.epochs, self.eta, self.alpha = epochs, eta, alpha
        self.decrease_const, self.shuffle, self.minibatches = decrease_const, shuffle, minibatches

    def _encode_labels(self, y, k):
        onehot = np.zeros((k, len(y)))
        onehot[np.asarray(y, dtype=int), np.arange(len(y))] = 1.0
        return onehot

    def _initialize_weights(self):
        w1 = np.random.uniform(-1.0, 1.0, size=(self.n_hidden, self.n_features + 1))
        w2 = np.random.uniform(-1.0, 1.0, size=(self.n_output, self.n_hidden + 1))
        return w1, w2

    @staticmethod
    def _squash(z):
        return 1.0 / (1.0 + np.exp(-z))

    @staticmethod
    def _with_ones(M, axis):
        """M with a row (axis=0) or column (axis=1) of ones in front."""
        shape = (1, M.shape[1]) if axis == 0 else (M.shape[0], 1)
        return np.concatenate([np.ones(shape), M], axis=axis)

    def _feedforward(self, X, w1, w2):
        a1 = self._with_ones(X, axis=1)  # (N, D+1)
        z2 = w1 @ a1.T  # (H, N)
        a2 = self._with_ones(self._squash(z2), axis=0)  # (H+1, N)
        z3 = w2 @ a2  # (K, N)
        a3 = self._squash(z3)
        return a1, z2, a2, z3, a3

    def _penalty(self, w1, w2):
        inner = [w1[:, 1:], w2[:, 1:]]
        l2_part = self.l2 / 2.0 * sum(float(np.sum(W * W)) for W in inner)
        l1_part = self.l1 / 2.0 * sum(float(np.abs(W).sum()) for W in inner)
        return l2_part + l1_part

    def _get_cost(self, y_enc, output, w1, w2):
        data = -np.sum(y_enc * np.log(output) + (1.0 - y_enc) * np.log(1.0 - output))
        return data + self._penalty(w1, w2)

    def _get_gradient(self, a1, a2, a3, z2, y_enc, w1, w2):
        err3 = a3 - y_enc  # (K, N): cross-entropy through the sigmoid
        s2 = self._squash(z2)
        err2 = (w2[:, 1:].T @ err3) * s2 * (1.0 - s2)  # (H, N)
        grad1 = err2 @ a1
        grad2 = err3 @ a2.T
        for grad, w in ((grad1, w1), (grad2, w2)):
            grad[:, 1:] += self.l2 * w[:, 1:] + self.l1 * np.sign(w[:, 1:])
        return grad1, grad2

    def predict(self, X):
        z3 = self._feedforward(X, self.w1, self.w2)[3]
        return np.argmax(z3, axis=0)

    def fit(self, X, y):
        self.cost_ = []
        X_data, y_enc = X.copy(), self._encode_labels(y, self.n_output)
        step1_prev, step2_prev = np.zeros(self.w1.shape), np.zeros(self.w2.shape)
        for i in range(self.epochs):
            self.eta /= 1 + self.decrease_const * i
            if self.shuffle:
                order = np.random.permutation(len(y))
                X_data, y_enc = X_data[order], y_enc[:, order]
            for part in np.array_split(np.arange(len(y)), self.minibatches):
                a1, z2, a2, z3, a3 = self._feedforward(X_data[part], self.w1, self.w2)
                self.cost_.append(self._get_cost(y_enc[:, part], a3, self.w1, self.w2))
                grad1, grad2 = self._get_gradient(a1, a2, a3, z2, y_enc[:, part], self.w1, self.w2)
                step1, step2 = self.eta * grad1, self.eta * grad2
                self.w1 -= step1 + self.alpha * step1_prev
                self.w2 -= step2 + self.alpha * step2_prev
                step1_prev, step2_prev = step1, step2
        return self
