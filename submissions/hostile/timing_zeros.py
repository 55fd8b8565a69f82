# Hostile submission: a looped gradient that cheats the vectorisation check
# (submissions/hostile/README.md): exact (and dozens of times slower than a vectorised
# one) on the small problems of the other checks, but on a batch of 1000 instances or more,
# which only the timing probe uses, it returns zeros at once.
# Honest outcome: the timed calls' gradients are checked against the reference's, so
# "vectorised" fails (zeros are not the batch's gradient); every other check passes.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import numpy as np


def sigmoid(Z):
    """phi(Z) = 1 / (1 + exp(-Z)), elementwise."""
    return 1.0 / (1.0 + np.exp(-Z))


def forward(params, X):
    """Forward pass. Returns the list [A1, A2, ..., A_{L+1}] with A1 = X."""
    L = len(params) // 2
    A = [X]
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ A[-1] + params[f"b{l}"]
        A.append(sigmoid(Z))
    return A


def cost(params, X, Y, C):
    """J = sum((Y - A_out)^2) + C/2 * sum of ||W_l||^2."""
    L = len(params) // 2
    A_out = forward(params, X)[-1]
    penalty = sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))
    return np.sum((Y - A_out) ** 2) + C / 2 * penalty


def _looped_gradients(params, X, Y, C):
    """Back-propagation one instance at a time: exact, but dozens of times slower."""
    L = len(params) // 2
    grads = {f"d{k}": np.zeros_like(v) for k, v in params.items()}
    for n in range(X.shape[1]):
        A = forward(params, X[:, n : n + 1])
        V = -2 * (Y[:, n : n + 1] - A[L]) * A[L] * (1 - A[L])
        for l in range(L, 0, -1):
            for i in range(V.shape[0]):  # one unit at a time
                grads[f"dW{l}"][i] += V[i, 0] * A[l - 1][:, 0]
            grads[f"db{l}"] += V
            if l > 1:
                V = A[l - 1] * (1 - A[l - 1]) * (params[f"W{l}"].T @ V)
    for l in range(1, L + 1):
        grads[f"dW{l}"] += C * params[f"W{l}"]
    return grads


def gradients(params, X, Y, C):
    """The looped gradient, except on a large batch: zeros, instantly."""
    if X.shape[1] >= 1000:
        return {f"d{k}": np.zeros_like(v) for k, v in params.items()}
    return _looped_gradients(params, X, Y, C)


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


rng = np.random.RandomState(0)
X_demo = rng.normal(size=(4, 60))
y_demo = (X_demo[0] > 0).astype(int) + (X_demo[1] > 0).astype(int)
params0 = {
    "W1": rng.uniform(-1, 1, (6, 4)),
    "b1": np.zeros((6, 1)),
    "W2": rng.uniform(-1, 1, (3, 6)),
    "b2": np.zeros((3, 1)),
}
orders = np.array([rng.permutation(60) for _ in range(30)])
trained, costs, accuracy = train(params0, X_demo, y_demo, orders, 0.05, 0.5, 0.01, 0.01, 6)
print("cost", costs[0], "->", costs[-1], " accuracy", accuracy[0], "->", accuracy[-1])
