"""PLANTED BUG in course_any_depth_lists.py's shape: the hidden layers' sensitivity is
back-propagated with its sign flipped (the sigmoid's derivative written A (A - 1)), so every
hidden layer's data gradient is -1x the right one while the output layer's is right; the
penalty's C·W, added afterwards, keeps its sign. Otherwise the same code as:

A student's extension of the course's TLPMiniBatch to any number of hidden layers.

Our own re-creation of a shape students write (not copied from anyone): the weights and
biases are kept in lists (self.weights = [W1, W2, ...], self.biases = [b1, ...]), the
methods read them from self instead of taking them as arguments (_feedforward(X) returns
the list of activations [A1, A2, ..., A_out]; _get_gradient(A, Y_enc) returns the lists
(grads_W, grads_b)), and momentum and step cooling are written inline in fit, which
shuffles X and y with one permutation per epoch and records the mean of its mini-batch
costs, as the course's 08a classes do. The printed cost is the
course's (the squared error averaged over every entry, C/2 times the square root of the
layers' mean squared weights, column 0 left out); the gradient is the course's summed
objective with C·W. Correct code.
"""

import numpy as np
from scipy.special import expit


class MultiLayerPerceptron:
    def __init__(self, hidden_layers=(30,), C=0.0, epochs=500, eta=0.001, alpha=0.0,
                 decrease_const=1.0, decrease_iter=1, minibatches=1, shuffle=True, random_state=None):
        np.random.seed(random_state)
        self.hidden_layers = list(hidden_layers)
        self.l2_C = C
        self.epochs = epochs
        self.eta = eta
        self.alpha = alpha
        self.decrease_const = decrease_const
        self.decrease_iter = decrease_iter
        self.minibatches = minibatches
        self.shuffle = shuffle

    @staticmethod
    def _encode_labels(y):
        onehot = np.zeros((np.unique(y).shape[0], y.shape[0]))
        for idx, val in enumerate(y):
            onehot[val, idx] = 1.0
        return onehot

    def _initialize_weights(self, sizes):
        """One (out, in) matrix and one (out, 1) bias per layer, kept in two lists."""
        self.weights, self.biases = [], []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            self.weights.append(np.random.uniform(-1.0, 1.0, n_out * n_in).reshape(n_out, n_in))
            self.biases.append(np.zeros((n_out, 1)))

    def _feedforward(self, X):
        """Every layer's activation, columns as instances: [A1 = X.T, A2, ..., A_out]."""
        activations = [X.T]
        for W, b in zip(self.weights, self.biases):
            activations.append(expit(W @ activations[-1] + b))
        return activations

    def _L2_reg(self):
        return self.l2_C / 2.0 * np.sqrt(sum(np.mean(W[:, 1:] ** 2) for W in self.weights))

    def _cost(self, A_out, Y_enc):
        return np.mean((Y_enc - A_out) ** 2) + self._L2_reg()

    def _get_gradient(self, A, Y_enc):
        """Back-propagation through every layer; the lists of weight and bias gradients."""
        grads_W = [None] * len(self.weights)
        grads_b = [None] * len(self.weights)
        V = -2.0 * (Y_enc - A[-1]) * A[-1] * (1.0 - A[-1])
        for layer in reversed(range(len(self.weights))):
            grads_W[layer] = V @ A[layer].T + self.l2_C * self.weights[layer]
            grads_b[layer] = np.sum(V, axis=1).reshape((-1, 1))
            if layer > 0:
                V = A[layer] * (A[layer] - 1.0) * (self.weights[layer].T @ V)
        return grads_W, grads_b

    def predict(self, X):
        return np.argmax(self._feedforward(X)[-1], axis=0)

    def fit(self, X, y):
        X_data, y_data = X.copy(), y.copy()
        Y_enc = self._encode_labels(y)
        self._initialize_weights([X.shape[1], *self.hidden_layers, Y_enc.shape[0]])
        rho_prev = [np.zeros(W.shape) for W in self.weights]

        self.cost_ = []
        self.score_ = [np.mean(self.predict(X_data) == y_data)]
        for k in range(self.epochs):
            eta = self.eta * self.decrease_const ** np.floor(k / self.decrease_iter)
            if self.shuffle:
                idx_shuffle = np.random.permutation(y_data.shape[0])
                X_data, Y_enc, y_data = X_data[idx_shuffle], Y_enc[:, idx_shuffle], y_data[idx_shuffle]

            mini_cost = []
            for idx in np.array_split(range(y_data.shape[0]), self.minibatches):
                A = self._feedforward(X_data[idx])
                mini_cost.append(self._cost(A[-1], Y_enc[:, idx]))
                grads_W, grads_b = self._get_gradient(A, Y_enc[:, idx])
                for i in range(len(self.weights)):
                    rho = eta * grads_W[i]
                    self.weights[i] -= rho + self.alpha * rho_prev[i]
                    self.biases[i] -= eta * grads_b[i]
                    rho_prev[i] = rho

            self.cost_.append(np.mean(mini_cost))
            self.score_.append(np.mean(self.predict(X_data) == y_data))
        return self
