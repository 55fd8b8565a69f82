# %% [markdown]
# # Assignment: a multi-layer perceptron with back-propagation
#
# Implement each function below in numpy, in the lecture's notation
# (*Optimizing Neural Networks*, "Back Propagation Summary"):
#
# - **columns are instances**: the input `X` is (D, N), the one-hot targets `Y`
#   are (K, N), the labels `y` are integers 0..K-1 of shape (N,);
# - `params` is a dict `{"W1": (H1, D), "b1": (H1, 1), "W2": (H2, H1), "b2": (H2, 1), ...,
#   "WL": (K, H_{L-1}), "bL": (K, 1)}` for **any** number of layers L (your code is
#   also checked on a deeper network than the two-layer one of the lecture);
# - every layer, the output layer included, applies the sigmoid $\phi(z) = 1 / (1 + e^{-z})$;
# - the objective is the squared error plus an L2 penalty on the weights (not the biases):
#
# $$J(\mathbf{W}) = \|\mathbf{Y} - \mathbf{A}^{(L+1)}\|^2 + \frac{C}{2} \sum_{l=1}^{L} \|\mathbf{W}^{(l)}\|^2$$
#
# Replace each `raise NotImplementedError(...)` by your code; keep the function
# names and arguments. The grader runs only the imports, the `def`s and
# constants of this notebook (the demo cell at the end is for you), so
# everything a function needs must be inside it or among the imports.
#
# Check your work with the kit your instructor gave you:
#
#     grader check mlp_backprop.ipynb --kit kit/
#
# (or `python kit/check.py mlp_backprop.ipynb` without the grader installed). It
# runs the public checks and tells you, for each function, what it observed and
# what to do next.

# %%
import numpy as np

# %% [markdown]
# ## The activation (given)
#
# $\phi(z) = 1 / (1 + e^{-z})$, applied elementwise. Its derivative, written with
# the activation $a = \phi(z)$, is $\phi'(z) = a\,(1 - a)$: back-propagation uses
# this form.


# %%
def sigmoid(Z):
    """The logistic sigmoid, elementwise.

    Parameters
    ----------
    Z : ndarray of any shape
        Net inputs.

    Returns
    -------
    A : ndarray of the same shape as ``Z``
        ``1 / (1 + exp(-Z))``.
    """
    return 1.0 / (1.0 + np.exp(-Z))


# %% [markdown]
# ## 1. Forward propagation
#
# Starting from $\mathbf{A}^{(1)} = \mathbf{X}$, each layer $l = 1, \dots, L$ computes
#
# $$\mathbf{Z}^{(l)} = \mathbf{W}^{(l)} \mathbf{A}^{(l)} + \mathbf{b}^{(l)}, \qquad
#   \mathbf{A}^{(l+1)} = \phi(\mathbf{Z}^{(l)})$$
#
# The bias $\mathbf{b}^{(l)}$ is a column (units, 1); numpy broadcasts it over the
# N columns. Return every activation: back-propagation needs them all.


# %%
def forward(params, X):
    """Propagate a batch forward through every layer.

    Parameters
    ----------
    params : dict of str -> ndarray
        ``"W1"`` of shape (H1, D), ``"b1"`` of shape (H1, 1), ..., ``"WL"`` of shape
        (K, H_{L-1}), ``"bL"`` of shape (K, 1).
    X : ndarray of shape (D, N)
        The inputs, one instance per column.

    Returns
    -------
    A : list of L + 1 ndarrays
        ``[A1, A2, ..., A_{L+1}]`` with ``A1 = X`` (D, N), ``A_{l+1}`` of shape
        (units of layer l, N), and the output ``A_{L+1}`` of shape (K, N).
    """
    raise NotImplementedError("forward: compute [A1, ..., A_{L+1}] (see the cell above)")


# %% [markdown]
# ## 2. The cost
#
# $$J = \sum_{k,n} \big(Y_{kn} - A^{(L+1)}_{kn}\big)^2 + \frac{C}{2} \sum_{l=1}^{L} \sum_{i,j} \big(W^{(l)}_{ij}\big)^2$$
#
# A sum over the instances (not a mean), and no penalty on the biases.


# %%
def cost(params, X, Y, C):
    """The regularised squared-error objective J.

    Parameters
    ----------
    params : dict of str -> ndarray
        The network's weights and biases (see :func:`forward`).
    X : ndarray of shape (D, N)
        The inputs.
    Y : ndarray of shape (K, N)
        One-hot targets.
    C : float
        The L2 penalty's strength.

    Returns
    -------
    J : float
        ``sum((Y - A_out)**2) + C/2 * sum_l ||W_l||**2``.
    """
    raise NotImplementedError("cost: compute J = data term + penalty (see the cell above)")


# %% [markdown]
# ## 3. Back-propagation
#
# 1. Forward propagate to get every $\mathbf{A}^{(l)}$.
# 2. The output layer's sensitivity:
#    $$\mathbf{V}^{(L)} = -2\,(\mathbf{Y} - \mathbf{A}^{(L+1)}) * \mathbf{A}^{(L+1)} * (1 - \mathbf{A}^{(L+1)})$$
# 3. Back-propagate the sensitivities, for $l = L, \dots, 2$ (the recurrence):
#    $$\mathbf{V}^{(l-1)} = \mathbf{A}^{(l)} * (1 - \mathbf{A}^{(l)}) * [\mathbf{W}^{(l)}]^T \mathbf{V}^{(l)}$$
# 4. Each layer's gradient, the penalty's gradient $C\,\mathbf{W}^{(l)}$ added to the weights only:
#    $$\nabla_{\mathbf{W}^{(l)}} J = \mathbf{V}^{(l)} [\mathbf{A}^{(l)}]^T + C\,\mathbf{W}^{(l)}, \qquad
#      \nabla_{\mathbf{b}^{(l)}} J = \sum_n \mathbf{V}^{(l)}_{:,n} \ \text{(row sums, shape (units, 1))}$$
#
# `*` is the elementwise product; $[\mathbf{W}]^T \mathbf{V}$ a matrix product. The
# matrix products sum over the whole batch at once: no loop over instances.
# Gradient-check your result against central differences on a tiny problem.


# %%
def gradients(params, X, Y, C):
    """The gradient of J with respect to every weight and bias, by back-propagation.

    Parameters
    ----------
    params : dict of str -> ndarray
        The network's weights and biases (see :func:`forward`).
    X : ndarray of shape (D, N)
        The inputs.
    Y : ndarray of shape (K, N)
        One-hot targets.
    C : float
        The L2 penalty's strength.

    Returns
    -------
    grads : dict of str -> ndarray
        ``{"dW1": ..., "db1": ..., ..., "dWL": ..., "dbL": ...}``, each shaped like
        its parameter: ``dWl`` like ``Wl``, ``dbl`` (units, 1) like ``bl``.
    """
    raise NotImplementedError("gradients: back-propagate V and return dW, db (see the cell above)")


# %% [markdown]
# ## 4. Momentum and cooling
#
# Mini-batch gradients are erratic; momentum uses the previous update in the
# current one. The lecture writes $\mathbf{W}_{k+1} = \mathbf{W}_k - \rho_k$; the
# course's code keeps the previous raw step:
#
# $$\rho_k = \eta\,\nabla J(\mathbf{W}_k), \qquad
#   \mathbf{W}_{k+1} = \mathbf{W}_k - \rho_k - \alpha\,\rho_{k-1}$$
#
# for **every** array (weights and biases); $\rho_{k-1}$ is the previous step, zero
# before the first one. The lecture's slide writes the same whole update with other
# letters, $\alpha \nabla J(\mathbf{W}_k) + \beta \nabla J(\mathbf{W}_{k-1})$: its
# $\alpha$ is the rate $\eta$ here, its $\beta$ is $\alpha$ times the previous step's rate.
#
# Cooling starts with a large step and decreases it at later epochs; epoch k
# (counting from 0) uses
#
# $$\eta_k = \frac{\eta_0}{1 + d\,k}$$


# %%
def momentum_step(params, grads, rho_prev, eta, alpha):
    """One momentum step on every weight and bias.

    Parameters
    ----------
    params : dict of str -> ndarray
        ``"W1"`` (H1, D), ``"b1"`` (H1, 1), ...: the parameters before the step.
    grads : dict of str -> ndarray
        ``"dW1"``, ``"db1"``, ...: their gradients, each of its parameter's shape, as
        :func:`gradients` returns them.
    rho_prev : dict of str -> ndarray
        The previous step ``eta * grad``, keyed like ``params``, each of its parameter's
        shape (zeros before the first step).
    eta : float
        The learning rate.
    alpha : float
        The momentum constant.

    Returns
    -------
    new_params : dict of str -> ndarray
        ``params[name] - rho[name] - alpha * rho_prev[name]`` for every name, each of
        its parameter's shape.
    rho : dict of str -> ndarray
        This step, ``eta * grads["d" + name]``, keyed like ``params``.
    """
    raise NotImplementedError("momentum_step: rho = eta * grad; W - rho - alpha * rho_prev")


def learning_rate(eta0, d, epoch):
    """The cooled learning rate of one epoch.

    Parameters
    ----------
    eta0 : float
        The initial learning rate.
    d : float
        The decrease constant.
    epoch : int
        The epoch, counting from 0.

    Returns
    -------
    eta : float
        ``eta0 / (1 + d * epoch)``.
    """
    raise NotImplementedError("learning_rate: eta0 / (1 + d * epoch)")


# %% [markdown]
# ## 5. Targets and predictions
#
# One-hot targets have one column per instance and a single 1 in row $y_n$ of
# column n. The predicted label of column n is the row of $\mathbf{A}^{(L+1)}$
# with the largest activation.


# %%
def one_hot(y, K):
    """Labels -> one-hot target columns.

    Parameters
    ----------
    y : ndarray of shape (N,)
        Integer labels 0..K-1.
    K : int
        The number of classes.

    Returns
    -------
    Y : ndarray of shape (K, N)
        ``Y[y[n], n] = 1``, every other entry 0.
    """
    raise NotImplementedError("one_hot: a (K, N) array with Y[y[n], n] = 1")


def predict(params, X):
    """The predicted label of every instance.

    Parameters
    ----------
    params : dict of str -> ndarray
        The network's weights and biases (see :func:`forward`).
    X : ndarray of shape (D, N)
        The inputs.

    Returns
    -------
    labels : ndarray of shape (N,)
        ``argmax`` of the output activations ``A_{L+1}`` over the K rows, per column.
    """
    raise NotImplementedError("predict: argmax of the output activations per column")


# %% [markdown]
# ## 6. Mini-batch training
#
# Epoch k (0-based) uses the rate `learning_rate(eta, d, k)`. `orders[k]` is the
# order of the columns of `X` in that epoch: cut it into `minibatches` batches with
# `np.array_split(orders[k], minibatches)` and take one `momentum_step` per batch
# (the momentum carries over from batch to batch and epoch to epoch, starting at
# zero). After each epoch record `cost(params, X, Y, C)` on the whole training
# set and the training accuracy; `accuracy[0]` is the accuracy before training.
# Do not change the `params` you are given: work on copies.


# %%
def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    """Train the network with mini-batch gradient descent, momentum and cooling.

    Parameters
    ----------
    params : dict of str -> ndarray
        The initial weights and biases (see :func:`forward`); left unchanged.
    X : ndarray of shape (D, N)
        The training inputs.
    y : ndarray of shape (N,)
        Their labels 0..K-1.
    orders : ndarray of shape (E, N)
        ``orders[k]`` is the order of the columns of ``X`` in epoch k.
    eta : float
        The initial learning rate (cooled by :func:`learning_rate`).
    alpha : float
        The momentum constant.
    C : float
        The L2 penalty's strength.
    d : float
        The cooling's decrease constant.
    minibatches : int
        Batches per epoch.

    Returns
    -------
    params : dict of str -> ndarray
        The trained weights and biases.
    cost : ndarray of shape (E,)
        J on the whole training set after each epoch.
    accuracy : ndarray of shape (E + 1,)
        The training accuracy before training, then after each epoch.
    """
    raise NotImplementedError("train: one momentum_step per mini-batch (see the cell above)")


# %% [markdown]
# ## Try it
#
# A small three-class problem. Once everything is implemented, the cost should
# fall and the accuracy rise. (The grader does not run this cell: it is one
# call, and graded code runs only imports, `def`s and constants.)


# %%
def demo(epochs=30, seed=0):
    """Train a 4-6-3 network on 60 random points; print the first and last cost and accuracy."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(4, 60))
    y = (X[0] > 0).astype(int) + (X[1] > 0).astype(int)
    params = {
        "W1": rng.uniform(-1, 1, (6, 4)),
        "b1": np.zeros((6, 1)),
        "W2": rng.uniform(-1, 1, (3, 6)),
        "b2": np.zeros((3, 1)),
    }
    orders = np.array([rng.permutation(60) for _ in range(epochs)])
    trained, costs, accuracy = train(params, X, y, orders, 0.05, 0.5, 0.01, 0.01, 6)
    print("cost", costs[0], "->", costs[-1], " accuracy", accuracy[0], "->", accuracy[-1])
    return trained, costs, accuracy


trained, costs, accuracy = demo()
