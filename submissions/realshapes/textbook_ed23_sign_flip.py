"""PLANTED BUG (the output error's sign flipped inside fit: y_enc - a_out) in
our re-creation of the textbook's 2nd/3rd-edition API shape (submissions/realshapes/README.md):
NeuralNetMLP with _forward returning z_h, a_h, z_out, a_out, the gradient inline in fit
(judged through one step of fit: grader.adapters.child_probes, TextbookRows._through_fit),
minibatch_size and seed. Written for this corpus; no third-party code is copied.
"""

import sys

import numpy as np


class NeuralNetMLP(object):
    """Feedforward neural network / Multi-layer perceptron classifier.

    Parameters
    ------------
    n_hidden : int (default: 30)
        Number of hidden units.
    l2 : float (default: 0.)
        Lambda value for L2-regularization.
    epochs : int (default: 100)
        Number of passes over the training set.
    eta : float (default: 0.001)
        Learning rate.
    shuffle : bool (default: True)
        Shuffles training data every epoch if True to prevent circles.
    minibatch_size : int (default: 1)
        Number of training examples per minibatch.
    seed : int (default: None)
        Random seed for initializing weights and shuffling.
    """

    def __init__(
        self, n_hidden=30, l2=0.0, epochs=100, eta=0.001, shuffle=True, minibatch_size=1, seed=None
    ):
        self.random = np.random.RandomState(seed)
        self.n_hidden = n_hidden
        self.l2 = l2
        self.epochs = epochs
        self.eta = eta
        self.shuffle = shuffle
        self.minibatch_size = minibatch_size

    def _onehot(self, y, n_classes):
        """Encode labels into one-hot representation, shape (n_examples, n_classes)."""
        onehot = np.zeros((n_classes, y.shape[0]))
        for idx, val in enumerate(y.astype(int)):
            onehot[val, idx] = 1.0
        return onehot.T

    def _sigmoid(self, z):
        """Compute logistic function (sigmoid)"""
        return 1.0 / (1.0 + np.exp(-np.clip(z, -250, 250)))

    def _forward(self, X):
        """Compute forward propagation step"""
        # [n_examples, n_features] dot [n_features, n_hidden] -> [n_examples, n_hidden]
        z_h = np.dot(X, self.w_h) + self.b_h
        a_h = self._sigmoid(z_h)
        # [n_examples, n_hidden] dot [n_hidden, n_classlabels] -> [n_examples, n_classlabels]
        z_out = np.dot(a_h, self.w_out) + self.b_out
        a_out = self._sigmoid(z_out)
        return z_h, a_h, z_out, a_out

    def _compute_cost(self, y_enc, output):
        """Regularized logistic cost."""
        L2_term = self.l2 * (np.sum(self.w_h**2.0) + np.sum(self.w_out**2.0))
        term1 = -y_enc * (np.log(output))
        term2 = (1.0 - y_enc) * np.log(1.0 - output)
        cost = np.sum(term1 - term2) + L2_term
        return cost

    def predict(self, X):
        """Predict class labels"""
        z_h, a_h, z_out, a_out = self._forward(X)
        y_pred = np.argmax(z_out, axis=1)
        return y_pred

    def fit(self, X_train, y_train, X_valid, y_valid):
        """Learn weights from training data."""
        n_output = np.unique(y_train).shape[0]  # number of class labels
        n_features = X_train.shape[1]

        self.b_h = np.zeros(self.n_hidden)
        self.w_h = self.random.normal(loc=0.0, scale=0.1, size=(n_features, self.n_hidden))
        self.b_out = np.zeros(n_output)
        self.w_out = self.random.normal(loc=0.0, scale=0.1, size=(self.n_hidden, n_output))

        epoch_strlen = len(str(self.epochs))  # for progress formatting
        self.eval_ = {"cost": [], "train_acc": [], "valid_acc": []}

        y_train_enc = self._onehot(y_train, n_output)

        for i in range(self.epochs):
            indices = np.arange(X_train.shape[0])
            if self.shuffle:
                self.random.shuffle(indices)

            for start_idx in range(
                0, indices.shape[0] - self.minibatch_size + 1, self.minibatch_size
            ):
                batch_idx = indices[start_idx : start_idx + self.minibatch_size]

                z_h, a_h, z_out, a_out = self._forward(X_train[batch_idx])
                # back-propagation inline in fit, as the 2nd and 3rd editions do
                delta_out = y_train_enc[batch_idx] - a_out  # PLANTED BUG: the sign flipped
                delta_h = np.dot(delta_out, self.w_out.T) * (a_h * (1.0 - a_h))
                grad_w_h = np.dot(X_train[batch_idx].T, delta_h) + self.l2 * self.w_h
                grad_b_h = np.sum(delta_h, axis=0)
                grad_w_out = np.dot(a_h.T, delta_out) + self.l2 * self.w_out
                grad_b_out = np.sum(delta_out, axis=0)
                self.w_h -= self.eta * grad_w_h
                self.b_h -= self.eta * grad_b_h
                self.w_out -= self.eta * grad_w_out
                self.b_out -= self.eta * grad_b_out

            z_h, a_h, z_out, a_out = self._forward(X_train)
            cost = self._compute_cost(y_enc=y_train_enc, output=a_out)
            # the accuracy through np.float, as the 2nd and 3rd editions count it (an alias numpy
            # removed in 1.24: the grader restores it while it runs this fit)
            train_acc = (np.sum(y_train == self.predict(X_train))).astype(np.float) / X_train.shape[0]
            valid_acc = (np.sum(y_valid == self.predict(X_valid))).astype(np.float) / X_valid.shape[0]

            sys.stderr.write(
                "\r%0*d/%d | Cost: %.2f | Train/Valid Acc.: %.2f%%/%.2f%% "
                % (epoch_strlen, i + 1, self.epochs, cost, train_acc * 100, valid_acc * 100)
            )
            sys.stderr.flush()

            self.eval_["cost"].append(cost)
            self.eval_["train_acc"].append(train_acc)
            self.eval_["valid_acc"].append(valid_acc)

        return self


if __name__ == "__main__":
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    nn = NeuralNetMLP(n_hidden=30, l2=0.01, epochs=5, eta=0.001, minibatch_size=20, seed=1)
    nn.fit(X[:1000], y[:1000], X[1000:1200], y[1000:1200])
