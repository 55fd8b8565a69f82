"""A correct template submission at the lab level (a module, graded with rubrics/mlp_lab.toml).

The core template functions (submissions/README.md) with the lab's keywords:
`hidden` and `output` activations (sigmoid, tanh, relu, softmax), the `loss`
(squared, bce, cce) and `optimizer_step` for Nesterov, AdaGrad, RMSProp and Adam.
"""

import numpy as np


def activate(Z, name):
    """phi(Z) for the named activation; softmax normalises each column."""
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-Z))
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0.0)
    if name == "softmax":
        E = np.exp(Z - Z.max(axis=0, keepdims=True))
        return E / E.sum(axis=0, keepdims=True)
    raise ValueError(f"unknown activation {name!r}")


def derivative(A, Z, name):
    """phi'(Z) written with the activation A where the lecture does."""
    if name == "sigmoid":
        return A * (1 - A)
    if name == "tanh":
        return 1 - A**2
    if name == "relu":
        return (Z > 0).astype(float)
    raise ValueError(f"no elementwise derivative for {name!r}")


def forward(params, X, hidden="sigmoid", output="sigmoid", keep_z=False):
    """[A1 = X, A2, ..., A_{L+1}]; every hidden layer applies `hidden`, the last `output`."""
    L = len(params) // 2
    A, Z = [X], []
    for l in range(1, L + 1):
        Z.append(params[f"W{l}"] @ A[-1] + params[f"b{l}"])
        A.append(activate(Z[-1], output if l == L else hidden))
    return (A, Z) if keep_z else A


def cost(params, X, Y, C, hidden="sigmoid", output="sigmoid", loss="squared"):
    """The data term summed over instances, plus C/2 * sum of ||W_l||^2."""
    L = len(params) // 2
    A_out = forward(params, X, hidden, output)[-1]
    if loss == "squared":
        data = np.sum((Y - A_out) ** 2)
    elif loss == "bce":
        data = -np.sum(Y * np.log(A_out) + (1 - Y) * np.log(1 - A_out))
    else:
        data = -np.sum(Y * np.log(A_out))
    return data + C / 2 * sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))


def gradients(params, X, Y, C, hidden="sigmoid", output="sigmoid", loss="squared"):
    """dJ/dW_l and dJ/db_l by back-propagation, any depth."""
    L = len(params) // 2
    A, Z = forward(params, X, hidden, output, keep_z=True)
    if (output, loss) in (("sigmoid", "bce"), ("softmax", "cce")):
        V = A[L] - Y  # the canonical pairs: the output derivative cancels
    else:
        V = -2 * (Y - A[L]) * derivative(A[L], Z[L - 1], output)
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = V @ A[l - 1].T + C * params[f"W{l}"]
        grads[f"db{l}"] = np.sum(V, axis=1, keepdims=True)
        if l > 1:
            V = derivative(A[l - 1], Z[l - 2], hidden) * (params[f"W{l}"].T @ V)
    return grads


def momentum_step(params, grads, rho_prev, eta, alpha):
    """The course's momentum: rho = eta*grad; W - rho - alpha*rho_prev."""
    new_params, rho = {}, {}
    for name in params:
        rho[name] = eta * grads["d" + name]
        new_params[name] = params[name] - rho[name] - alpha * rho_prev[name]
    return new_params, rho


def optimizer_step(params, grads, state, eta, method, hyper):
    """One step of `method` on every array; `state` is None before the first step."""
    if state is None:
        state = {"t": 0, **{k: np.zeros_like(v) for k, v in params.items()}}
        state |= {"v_" + k: np.zeros_like(v) for k, v in params.items()}
    state["t"] += 1
    new = {}
    for k, W in params.items():
        g = grads["d" + k]
        if method == "nesterov":
            a = hyper["alpha"]
            state[k] = a * state[k] + eta * g
            new[k] = W - (a * state[k] + eta * g)
        elif method == "adagrad_course":  # the course's TLPAdaGrad: eps inside, momentum on top
            state["v_" + k] = g * g + hyper["gamma"] * state["v_" + k] + hyper["eps"]
            r = eta * g / np.sqrt(state["v_" + k])
            new[k] = W - r - hyper["alpha"] * state[k]
            state[k] = r
        elif method == "adagrad_slide":
            state[k] = hyper["gamma"] * state[k] + g * g
            new[k] = W - eta * g / np.sqrt(state[k] + hyper["eps"])
        elif method == "rmsprop":
            state[k] = hyper["rho"] * state[k] + (1 - hyper["rho"]) * g * g
            new[k] = W - eta * g / (np.sqrt(state[k]) + hyper["eps"])
        elif method == "adam":
            b1, b2, t = hyper["beta1"], hyper["beta2"], state["t"]
            state[k] = b1 * state[k] + (1 - b1) * g
            state["v_" + k] = b2 * state["v_" + k] + (1 - b2) * g * g
            m_hat, v_hat = state[k] / (1 - b1**t), state["v_" + k] / (1 - b2**t)
            new[k] = W - eta * m_hat / (np.sqrt(v_hat) + hyper["eps"])
        else:
            new[k] = W - eta * g
    return new, state


def learning_rate(eta0, d, epoch):
    return eta0 / (1 + d * epoch)


def one_hot(y, K):
    Y = np.zeros((K, len(y)))
    Y[y, np.arange(len(y))] = 1.0
    return Y


def predict(params, X, hidden="sigmoid", output="sigmoid"):
    return np.argmax(forward(params, X, hidden, output)[-1], axis=0)


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
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


def init_params(sizes, seed):
    """Glorot-uniform for sigmoid layers: W ~ U(±4·sqrt(6 / (n_in + n_out))), b = 0."""
    rng = np.random.RandomState(seed)
    params = {}
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        r = 4 * np.sqrt(6.0 / (n_in + n_out))
        params[f"W{l}"] = rng.uniform(-r, r, (n_out, n_in))
        params[f"b{l}"] = np.zeros((n_out, 1))
    return params
