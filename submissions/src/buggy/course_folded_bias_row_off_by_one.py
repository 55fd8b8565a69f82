# Buggy sample `course_folded_bias_row_off_by_one` (generated notebook: submissions/buggy/course_folded_bias_row_off_by_one.ipynb).
# Based on submissions/src/course_folded_ok.py; the one change: V1[:-1] drops the last hidden unit's row instead of the bias row.
# (Lines above the first cell marker are not part of the notebook.)

# %% [markdown]
# # Lab: MLP with the bias folded into the weights (the course's older classes)
#
# `W1` (H, D+1) and `W2` (K, H+1) hold the bias in column 0; a row of ones is
# prepended to each layer's input. Squared error, L2 penalty on the non-bias
# columns, momentum on the whole matrices, learning rate `eta /= (1 + d*i)`.

# %%
# %matplotlib inline
import sys

import numpy as np
import pandas as pd
from scipy.special import expit


# %%
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
        W1_num_elems = (self.n_features_ + 1) * self.n_hidden
        W1 = np.random.uniform(-1.0, 1.0, size=W1_num_elems)
        W1 = W1.reshape(self.n_hidden, self.n_features_ + 1)  # reshape to be W

        W2_num_elems = (self.n_hidden + 1) * self.n_output_
        W2 = np.random.uniform(-1.0, 1.0, size=W2_num_elems)
        W2 = W2.reshape(self.n_output_, self.n_hidden + 1)
        return W1, W2

    @staticmethod
    def _sigmoid(z):
        """Use scipy.special.expit to avoid overflow"""
        # 1.0 / (1.0 + np.exp(-z))
        return expit(z)

    @staticmethod
    def _add_bias_unit(X, how="column"):
        """Add bias unit (column or row of 1s) to array at index 0"""
        if how == "column":
            ones = np.ones((X.shape[0], 1))
            X_new = np.hstack((ones, X))
        elif how == "row":
            ones = np.ones((1, X.shape[1]))
            X_new = np.vstack((ones, X))
        return X_new

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

    def _feedforward(self, X, W1, W2):
        """Compute feedforward step"""
        A1 = self._add_bias_unit(X, how="column")
        A1 = A1.T
        Z1 = W1 @ A1
        A2 = self._sigmoid(Z1)
        A2 = self._add_bias_unit(A2, how="row")
        Z2 = W2 @ A2
        A3 = self._sigmoid(Z2)
        return A1, Z1, A2, Z2, A3

    def _get_gradient(self, A1, A2, A3, Z1, Z2, Y_enc, W1, W2):
        """Compute gradient step using backpropagation."""
        # vectorized backpropagation
        V2 = -2 * (Y_enc - A3) * A3 * (1 - A3)  # last layer sensitivity
        V1 = A2 * (1 - A2) * (W2.T @ V2)  # back prop the sensitivity

        grad1 = V1[:-1, :] @ A1.T  # dont back prop sensitivity of bias
        grad2 = V2 @ A2.T

        # regularize weights that are not bias terms
        grad1[:, 1:] += W1[:, 1:] * self.l2_C
        grad2[:, 1:] += W2[:, 1:] * self.l2_C

        return grad1, grad2

    def predict(self, X):
        """Predict class labels"""
        _, _, _, _, A3 = self._feedforward(X, self.W1, self.W2)
        y_pred = np.argmax(A3, axis=0)
        return y_pred


# %%
from sklearn.metrics import accuracy_score


class TLPMiniBatch(TwoLayerPerceptronBase):
    def __init__(self, alpha=0.0, decrease_const=0.0, shuffle=True, minibatches=1, **kwds):
        # need to add to the original initializer
        self.alpha = alpha
        self.decrease_const = decrease_const
        self.shuffle = shuffle
        self.minibatches = minibatches
        # but keep other keywords
        super().__init__(**kwds)

    def fit(self, X, y, print_progress=False):
        """Learn weights from training data. With mini-batch"""
        X_data, y_data = X.copy(), y.copy()
        Y_enc = self._encode_labels(y)

        # init weights and setup matrices
        self.n_features_ = X_data.shape[1]
        self.n_output_ = Y_enc.shape[0]
        self.W1, self.W2 = self._initialize_weights()

        delta_W1_prev = np.zeros(self.W1.shape)
        delta_W2_prev = np.zeros(self.W2.shape)

        self.cost_ = []
        self.score_ = []
        for i in range(self.epochs):
            # adaptive learning rate
            self.eta /= 1 + self.decrease_const * i

            if print_progress > 0 and (i + 1) % print_progress == 0:
                sys.stderr.write("\rEpoch: %d/%d" % (i + 1, self.epochs))
                sys.stderr.flush()

            if self.shuffle:
                idx_shuffle = np.random.permutation(y_data.shape[0])
                X_data, Y_enc, y_data = (
                    X_data[idx_shuffle],
                    Y_enc[:, idx_shuffle],
                    y_data[idx_shuffle],
                )

            mini = np.array_split(range(y_data.shape[0]), self.minibatches)
            mini_cost = []
            for idx in mini:
                # feedforward
                A1, Z1, A2, Z2, A3 = self._feedforward(X_data[idx], self.W1, self.W2)

                cost = self._cost(A3, Y_enc[:, idx], self.W1, self.W2)
                mini_cost.append(cost)  # this appends cost of mini-batch only

                # compute gradient via backpropagation
                grad1, grad2 = self._get_gradient(
                    A1=A1, A2=A2, A3=A3, Z1=Z1, Z2=Z2, Y_enc=Y_enc[:, idx], W1=self.W1, W2=self.W2
                )

                # momentum calculations
                delta_W1, delta_W2 = self.eta * grad1, self.eta * grad2
                self.W1 -= delta_W1 + (self.alpha * delta_W1_prev)
                self.W2 -= delta_W2 + (self.alpha * delta_W2_prev)
                delta_W1_prev, delta_W2_prev = delta_W1, delta_W2

            self.cost_.append(mini_cost)
            self.score_.append(accuracy_score(y_data, self.predict(X_data)))

        return self


# %%
from sklearn.datasets import load_digits

digits = load_digits()
X_train = digits.data[:600] / 16.0 - 0.5
y_train = digits.target[:600]

vals = {
    "n_hidden": 30,
    "C": 0.1,
    "epochs": 20,
    "eta": 0.01,
    "alpha": 0.001,
    "decrease_const": 1e-5,
    "minibatches": 50,
    "shuffle": True,
    "random_state": 1,
}
nn = TLPMiniBatch(**vals)
nn.fit(X_train, y_train, print_progress=1)
print("Resubstitution acc:", accuracy_score(y_train, nn.predict(X_train)))

# %%
import matplotlib.pyplot as plt

cost_avgs = [np.mean(x) for x in nn.cost_]
plt.plot(range(len(cost_avgs)), cost_avgs, color="red")
plt.ylabel("Cost")
plt.xlabel("Epochs")
plt.tight_layout()
plt.show()
