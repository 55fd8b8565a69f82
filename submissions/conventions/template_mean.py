"""The template assignment, with the data term averaged over the N instances.

Follows the template's API (submissions/README.md) but minimises the
scikit-learn form of the objective,

    J = (1/N) * sum((Y - A_out)**2) + C/(2N) * sum_l ||W_l||^2,

so every gradient is the summed objective's divided by N. The rest (course
momentum on every array, cooling eta0 / (1 + d*epoch)) is the template's.
"""

import numpy as np


def sigmoid(Z):
    """phi(Z) = 1 / (1 + exp(-Z)), elementwise."""
    return 1.0 / (1.0 + np.exp(-Z))


def forward(params, X):
    """Forward pass. X (D, N) -> [A1, ..., A_{L+1}], A1 = X, A_{L+1} (K, N)."""
    L = len(params) // 2
    A = [X]
    for l in range(1, L + 1):
        A.append(sigmoid(params[f"W{l}"] @ A[-1] + params[f"b{l}"]))
    return A


def cost(params, X, Y, C):
    """J = (1/N) sum((Y - A_out)^2) + C/(2N) sum_l ||W_l||^2."""
    L = len(params) // 2
    N = X.shape[1]
    A_out = forward(params, X)[-1]
    penalty = sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))
    return (np.sum((Y - A_out) ** 2) + C / 2 * penalty) / N


def gradients(params, X, Y, C):
    """dJ/dW_l (out, in) and dJ/db_l (out, 1) of the averaged objective."""
    L = len(params) // 2
    N = X.shape[1]
    A = forward(params, X)
    V = -2 * (Y - A[L]) * A[L] * (1 - A[L])
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = (V @ A[l - 1].T + C * params[f"W{l}"]) / N
        grads[f"db{l}"] = np.sum(V, axis=1).reshape(-1, 1) / N
        if l > 1:
            V = A[l - 1] * (1 - A[l - 1]) * (params[f"W{l}"].T @ V)
    return grads


def momentum_step(params, grads, rho_prev, eta, alpha):
    """The course's momentum on every array: rho = eta*grad; W - rho - alpha*rho_prev."""
    new_params, rho = {}, {}
    for name in params:
        rho[name] = eta * grads["d" + name]
        new_params[name] = params[name] - rho[name] - alpha * rho_prev[name]
    return new_params, rho


def learning_rate(eta0, d, epoch):
    """eta0 / (1 + d*epoch), epoch 0-based."""
    return eta0 / (1 + d * epoch)


def one_hot(y, K):
    """Labels 0..K-1 (N,) -> one-hot (K, N)."""
    Y = np.zeros((K, len(y)))
    Y[y, np.arange(len(y))] = 1.0
    return Y


def predict(params, X):
    """argmax of A_out per column, (N,)."""
    return np.argmax(forward(params, X)[-1], axis=0)


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    """Mini-batch training; returns (params, cost (E,), accuracy (E+1,))."""
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
