# Hostile submission: no network (submissions/hostile/README.md). The forward pass
# returns 0.5 whatever the weights, and the gradient is the penalty's alone (C·W, nothing
# for the biases): the two agree with each other, so a self-consistency check that only
# compares the gradient with the slope of the student's own objective would pass it.
# The optimiser, the cooling and the one-hot encoding are honest.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import numpy as np


def sigmoid(Z):
    """phi(Z) = 1 / (1 + exp(-Z)), elementwise."""
    return 1.0 / (1.0 + np.exp(-Z))


def forward(params, X):
    """The attack: every layer's activation is 0.5, whatever the weights and the inputs."""
    L = len(params) // 2
    return [X, *(np.full((params[f"W{l}"].shape[0], X.shape[1]), 0.5) for l in range(1, L + 1))]


def cost(params, X, Y, C):
    """J = sum((Y - A_out)^2) + C/2 * sum of ||W_l||^2, through the constant forward pass."""
    L = len(params) // 2
    A_out = forward(params, X)[-1]
    penalty = sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))
    return np.sum((Y - A_out) ** 2) + C / 2 * penalty


def gradients(params, X, Y, C):
    """The attack: the penalty's gradient alone (the data term's is 0 for a constant A)."""
    return {
        f"d{k}": C * v if k.startswith("W") else np.zeros_like(v) for k, v in params.items()
    }


# %% [markdown]
# ## Optimisation
#
# `momentum_step` is the course's momentum: `rho = eta * grad`,
# `W = W - rho - alpha * rho_prev`, applied to every array (weights and
# biases); it returns the new parameters and this step's `rho`.
# `learning_rate` is the cooling `eta0 / (1 + d * epoch)`.


# %%
def momentum_step(params, grads, rho_prev, eta, alpha):
    """One step of momentum; rho_prev and the returned rho are keyed like params."""
    new_params, rho = {}, {}
    for name in params:
        rho[name] = eta * grads["d" + name]
        new_params[name] = params[name] - rho[name] - alpha * rho_prev[name]
    return new_params, rho


def learning_rate(eta0, d, epoch):
    """The learning rate of epoch `epoch` (0-based)."""
    return eta0 / (1 + d * epoch)


def one_hot(y, K):
    """Labels 0..K-1, shape (N,) -> one-hot targets (K, N)."""
    Y = np.zeros((K, len(y)))
    Y[y, np.arange(len(y))] = 1.0
    return Y


def predict(params, X):
    """Class indices argmax(A_out) per column, shape (N,)."""
    return np.argmax(forward(params, X)[-1], axis=0)


# %% [markdown]
# ## Training
#
# `orders[k]` is the order of the columns of X in epoch k; cut it into
# `minibatches` batches with `np.array_split`, take one momentum step per
# batch, and after each epoch record the cost J on the whole training set and
# the training accuracy. `accuracy` starts with the accuracy before training.


# %%
def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    """Returns (params, cost (E,), accuracy (E+1,))."""
    L = len(params) // 2
    Y = one_hot(y, params[f"W{L}"].shape[0])
    params = {name: W.copy() for name, W in params.items()}
    rho = {name: np.zeros_like(W) for name, W in params.items()}
    costs, accuracy = [], [np.mean(predict(params, X) == y)]
    for epoch, order in enumerate(orders):
        eta_k = learning_rate(eta, d, epoch)
        for idx in np.array_split(order, minibatches):
            grads = gradients(params, X[:, idx], Y[:, idx], C)
            params, rho = momentum_step(params, grads, rho, eta_k, alpha)
        costs.append(cost(params, X, Y, C))
        accuracy.append(np.mean(predict(params, X) == y))
    return params, np.array(costs), np.array(accuracy)
