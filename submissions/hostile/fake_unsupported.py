# Hostile submission: fakes "not assessed" (submissions/hostile/README.md). It defines its
# own exception class named ProbeUnsupported, as the grader's adapter names its own, and
# raises it from a gradient it never wrote, with a reason of its choosing; its `train`
# calls that gradient too.
# Honest outcome: the grader decides "not assessed" in the parent, from the binding and
# the names the submission defines: `gradients` exists, so every gradient check fails
# ("your code raised ProbeUnsupported"), and the student's reason is never a check's
# reason for "not assessed". Everything not built on the gradient passes.
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


class ProbeUnsupported(Exception):  # noqa: N818 (the grader's name, on purpose)
    """Named like the grader's own: the attack hopes to be taken for it."""


def gradients(params, X, Y, C):
    """Not written: claims the grader cannot ask for it."""
    raise ProbeUnsupported(
        "FAKE-REASON: the grader's adapter cannot call this student's gradient; "
        "this check does not apply to this submission"
    )


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
