# Hostile submission (issue 14, independent objectives): tries to harvest what the
# independent probes hand the child. Every probe of one job runs in one child, so a
# module-level store survives from probe to probe: the update-rule probe's given
# gradients (and every given parameter set) are kept, and the gradient function
# returns a kept gradient of the right shapes instead of computing one (and, when none
# fits, only the penalty's C*W). The grader hands plain arrays for one probe (random
# gradients for the update rule, never the reference's answer to another check) and
# judges a loop with a mistake plugged in only in the parent: the harvest gains nothing.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

# %% [markdown]
# # Assignment: a multi-layer perceptron with back-propagation (template)
#
# Implement each function below in numpy, in the lecture's notation:
# columns are instances, `X` is (D, N), `Y` is one-hot (K, N), and `params`
# is a dict `{"W1": (H, D), "b1": (H, 1), "W2": (K, H), "b2": (K, 1), ...}`
# with any number of layers L. Every layer uses the sigmoid.
#
# The objective is `J = sum((Y - A_out)**2) + C/2 * sum_l ||W_l||^2`
# (biases are not penalised).

# %%
import numpy as np


# %%
class Harvest:
    """Executed at load (definitions mode keeps class bodies): the store the probes share."""

    grads: list = []
    params: list = []


def _kept_gradient(params):
    """A kept gradient with params' shapes, most recent first; None when none fits."""
    for grads in reversed(Harvest.grads):
        if all(grads.get("d" + k) is not None and grads["d" + k].shape == v.shape
               for k, v in params.items()):
            return {k: v.copy() for k, v in grads.items()}
    return None


# %%
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
    """Replays a harvested gradient; no back-propagation of its own."""
    Harvest.params.append({k: v.copy() for k, v in params.items()})
    kept = _kept_gradient(params)
    if kept is not None:
        print(f"HARVEST replayed a kept gradient ({len(Harvest.grads)} kept)")
        return kept
    return {("d" + k): (C * v if k.startswith("W") else np.zeros_like(v)) for k, v in params.items()}


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
    Harvest.grads.append({k: np.array(v, copy=True) for k, v in grads.items()})
    Harvest.params.append({k: np.array(v, copy=True) for k, v in params.items()})
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


# %% [markdown]
# ## Try it

# %%
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
