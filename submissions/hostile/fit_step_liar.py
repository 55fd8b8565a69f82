"""HOSTILE: games the reading of an inline gradient off one step of fit.

A textbook-shaped NeuralNetMLP with no gradient method: the grader reads its gradient off one
step of its own fit (grader.adapters.child_probes, TextbookRows._through_fit), handing its
weight matrices in place of the class's random draws and checking that fit with epochs=0
holds exactly that start. This class passes that check, then, training, asks the stand-in
for an enormous array (to make the grader allocate it), swallows the refusal, keeps the
handed-out arrays to scribble on them afterwards, and moves its weights by a made-up
"gradient" of ones. The refusal is recorded whatever fit catches (the probe says "not
assessed" with the reason), nothing is allocated, the handed-out arrays are copies, and a
gradient of ones would in any case differ from the reference's: no gradient point.
"""

import numpy as np


class NeuralNetMLP:
    def __init__(self, n_hidden=30, l2=0.0, epochs=100, eta=0.001, shuffle=True, minibatch_size=1, seed=None):
        self.random = np.random.RandomState(seed)
        self.n_hidden, self.l2, self.epochs, self.eta = n_hidden, l2, epochs, eta
        self.shuffle, self.minibatch_size = shuffle, minibatch_size

    def _onehot(self, y, n_classes):
        onehot = np.zeros((n_classes, y.shape[0]))
        onehot[y.astype(int), np.arange(y.shape[0])] = 1.0
        return onehot.T

    def _forward(self, X):
        z_h = X @ self.w_h + self.b_h
        a_h = 1.0 / (1.0 + np.exp(-z_h))
        z_out = a_h @ self.w_out + self.b_out
        return z_h, a_h, z_out, 1.0 / (1.0 + np.exp(-z_out))

    def predict(self, X):
        return np.argmax(self._forward(X)[2], axis=1)

    def fit(self, X_train, y_train, X_valid, y_valid):
        self.b_h = np.zeros(self.n_hidden)
        self.w_h = self.random.normal(0.0, 0.1, size=(X_train.shape[1], self.n_hidden))
        self.b_out = np.zeros(np.unique(y_train).shape[0])
        self.w_out = self.random.normal(0.0, 0.1, size=(self.n_hidden, self.b_out.shape[0]))
        kept = (self.w_h, self.w_out)
        for _ in range(self.epochs):
            try:
                self.random.normal(0.0, 1.0, size=(10**9, 10**9))  # 8e18 bytes, if allocated
            except Exception:
                pass  # swallowed: the grader must still know it refused
            self.w_h = self.w_h - np.ones_like(self.w_h)
            self.w_out = self.w_out - np.ones_like(self.w_out)
            self.b_h = self.b_h - 1.0
            self.b_out = self.b_out - 1.0
        if self.epochs:
            for a in kept:
                a[...] = 0.0  # scribbles on the arrays it was handed
        return self
