"""Forward propagation and back-propagation in the lecture's notation.

Columns are instances. For an L-layer network (the course's two-layer
perceptron has L = 2)::

    A^(1) = X                         X : (D, N)
    Z^(l) = W^(l) A^(l) + b^(l)       l = 1..L
    A^(l+1) = phi_l(Z^(l))            A^(L+1) is the output, (K, N)

Back-propagation is the lecture's recurrence on the sensitivities
``V^(l) = dJ/dZ^(l)``::

    V^(L) = phi_L'(Z^(L)) * dJ/dA^(L+1)           output layer  (sigmoid + squared:
                                                                  -2 (Y - A3) * A3 * (1 - A3))
    V^(l) = phi_l'(Z^(l)) * [W^(l+1)]^T V^(l+1)   hidden layers (A2 * (1 - A2) * W2^T V2)
    grad W^(l) = V^(l) [A^(l)]^T + d penalty/dW^(l)
    grad b^(l) = sum over instances of V^(l)

Each step of that recurrence is one field of :class:`BackpropRules`, so a
misconception is the reference with exactly one rule swapped
(``reference.misconceptions.gradients``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from reference.activations import Activation, get_activation
from reference.objectives import (
    Objective,
    data_gradient,
    data_scale,
    data_term,
    penalty_gradient,
    penalty_term,
)
from reference.params import Params

Array = np.ndarray


@dataclass(frozen=True)
class Model:
    """The network apart from its parameters: which phi each layer applies.

    hidden : activation of every hidden layer ("sigmoid", "tanh", "relu", "linear")
    output : activation of the output layer ("sigmoid", "softmax", "linear", ...)
    """

    hidden: str = "sigmoid"
    output: str = "sigmoid"

    def __post_init__(self) -> None:
        get_activation(self.hidden)
        get_activation(self.output)
        if self.hidden == "softmax":
            raise ValueError(
                "softmax is an output activation; hidden layers use sigmoid, tanh, relu or linear"
            )

    def activations(self, depth: int) -> list[Activation]:
        """phi_1 .. phi_L for a network of ``depth`` weight layers."""
        return [get_activation(self.hidden)] * (depth - 1) + [get_activation(self.output)]


@dataclass(frozen=True)
class Forward:
    """Everything the forward pass computed.

    Z : list of L ndarrays, Z[l-1] = Z^(l) : (n_{l+1}, N)
    A : list of L+1 ndarrays, A[0] = X (D, N), A[L] = output (K, N)
    """

    Z: list[Array]
    A: list[Array]

    @property
    def output(self) -> Array:
        """A^(L+1), the network's output (K, N)."""
        return self.A[-1]

    def named(self) -> dict[str, Array]:
        """``{"A1": X, "Z1": ..., "A2": ..., ...}`` in the lecture's names."""
        out = {f"A{l}": A for l, A in enumerate(self.A, start=1)}
        out.update({f"Z{l}": Z for l, Z in enumerate(self.Z, start=1)})
        return out


# Output activations whose values lie in (0, 1), so the log-losses are defined.
_PROBABILITY_OUTPUTS = {"bce": ("sigmoid", "softmax"), "cce": ("softmax", "sigmoid")}


def check_compatible(model: Model, objective: Objective) -> None:
    """Raise ValueError when the loss is undefined for the model's output activation."""
    allowed = _PROBABILITY_OUTPUTS.get(objective.loss)
    if allowed and model.output not in allowed:
        raise ValueError(
            f"loss {objective.loss!r} needs an output in (0, 1) ({' or '.join(allowed)}); "
            f"got output activation {model.output!r}"
        )


def forward(params: Params, X: Array, model: Model) -> Forward:
    """Forward-propagate ``X : ndarray (D, N)``; returns every Z and A."""
    A = [X]
    Z = []
    for W, b, phi in zip(params.W, params.b, model.activations(params.depth), strict=True):
        z = W @ A[-1]
        z += b
        Z.append(z)
        A.append(phi.forward(z))
    return Forward(Z, A)


def predict(params: Params, X: Array, model: Model) -> Array:
    """Class indices ``argmax(A_out, axis=0)``, ndarray (N,)."""
    return np.argmax(forward(params, X, model).output, axis=0)


# ---------------------------------------------------------------------------
# The recurrence, one rule per step


def output_delta(objective: Objective, phi: Activation, Z: Array, A: Array, Y: Array) -> Array:
    """V^(L) = dJ/dZ^(L).  Z, A, Y : ndarray (K, N).

    For the matched pairs (sigmoid + binary CE, softmax + categorical CE) the
    product collapses to ``A - Y`` (times the reduction's scale), the course's
    ``V2 = A3 - Y``; computing it that way stays finite when A saturates.
    """
    if (objective.loss, phi.name) in (("bce", "sigmoid"), ("cce", "softmax")):
        return data_scale(objective, Y) * (A - Y)
    return phi.backward(Z, A, data_gradient(objective, A, Y))


def hidden_delta(phi: Activation, Z: Array, A: Array, W_next: Array, V_next: Array) -> Array:
    """V^(l) = phi'(Z^(l)) * [W^(l+1)]^T V^(l+1).  Z, A : (n_{l+1}, N) of layer l."""
    return phi.backward(Z, A, W_next.T @ V_next)


def weight_gradient(V: Array, A_prev: Array) -> Array:
    """grad W^(l) (data part) = V^(l) [A^(l)]^T, (n_{l+1}, n_l)."""
    return V @ A_prev.T


def bias_gradient(V: Array) -> Array:
    """grad b^(l) (data part) = sum of V^(l) over instances, (n_{l+1}, 1)."""
    return V.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class BackpropRules:
    """The steps of back-propagation; the reference uses the defaults."""

    output_delta: Callable[[Objective, Activation, Array, Array, Array], Array] = field(
        default=output_delta
    )
    hidden_delta: Callable[[Activation, Array, Array, Array, Array], Array] = field(
        default=hidden_delta
    )
    weight_gradient: Callable[[Array, Array], Array] = field(default=weight_gradient)
    bias_gradient: Callable[[Array], Array] = field(default=bias_gradient)
    penalty_gradient: Callable[[Objective, Params, int], Params] = field(default=penalty_gradient)


REFERENCE_RULES = BackpropRules()


def backprop(
    params: Params,
    fwd: Forward,
    Y: Array,
    model: Model,
    objective: Objective,
    rules: BackpropRules = REFERENCE_RULES,
) -> Params:
    """Gradients of ``objective`` from a forward pass.  Y : ndarray (K, N), one-hot."""
    phis = model.activations(params.depth)
    L = params.depth
    V = rules.output_delta(objective, phis[-1], fwd.Z[-1], fwd.A[-1], Y)
    dW: list[Array] = [np.empty(0)] * L
    db: list[Array] = [np.empty(0)] * L
    for l in range(L - 1, -1, -1):  # 0-based: layer l+1 in the lecture's names
        dW[l] = rules.weight_gradient(V, fwd.A[l])
        db[l] = rules.bias_gradient(V)
        if l:
            V = rules.hidden_delta(phis[l - 1], fwd.Z[l - 1], fwd.A[l], params.W[l], V)
    if objective.penalty != "none" and objective.C:
        pen = rules.penalty_gradient(objective, params, Y.shape[1])
        for g, p in zip(dW + db, pen.W + pen.b, strict=True):
            g += p  # dW, db are fresh arrays: adding in place is safe and saves a copy
    return Params.trusted(dW, db)


def gradients(
    params: Params,
    X: Array,
    Y: Array,
    model: Model,
    objective: Objective,
    rules: BackpropRules = REFERENCE_RULES,
) -> Params:
    """The exact gradient of ``objective`` at ``params``.  X : (D, N), Y : (K, N)."""
    return backprop(params, forward(params, X, model), Y, model, objective, rules)


def objective_value(
    params: Params, X: Array, Y: Array, model: Model, objective: Objective
) -> float:
    """J(params) = data term + penalty, the function :func:`gradients` differentiates."""
    A = forward(params, X, model).output
    return data_term(objective, A, Y) + penalty_term(objective, params, Y.shape[1])


def gradient_magnitudes(grads: Params) -> Array:
    """Mean |grad W^(l)| per layer, ndarray (L,): the lab's vanishing-gradient plot."""
    return np.array([np.mean(np.abs(G)) for G in grads.W])
