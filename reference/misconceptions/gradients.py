"""Gradient misconceptions: the reference back-propagation with one rule swapped.

Every ``impl`` has the signature of :func:`reference.network.gradients`::

    impl(params, X, Y, model, objective) -> Params

and differs from it in exactly the way its ``description`` says, so a
student's gradient that equals one of these (within tolerance) is evidence of
that bug. Signatures are docs/conventions.md §5, measured on N=7, D=5, H=4, K=3, C=0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from reference.activations import Activation
from reference.misconceptions import Misconception, register
from reference.network import (
    REFERENCE_RULES,
    BackpropRules,
    Model,
    gradients,
    hidden_delta,
    output_delta,
)
from reference.objectives import Objective, data_gradient
from reference.params import Params

Array = np.ndarray

BACKPROP = "back-propagation"
REGULARISATION = "regularisation"

GradientFn = Callable[[Params, Array, Array, Model, Objective], Params]


def _with_rules(rules: BackpropRules) -> GradientFn:
    def impl(params: Params, X: Array, Y: Array, model: Model, objective: Objective) -> Params:
        return gradients(params, X, Y, model, objective, rules)

    return impl


def _with_objective(change: Callable[[Objective], Objective]) -> GradientFn:
    """The reference gradient of a changed objective (the change is the bug)."""

    def impl(params: Params, X: Array, Y: Array, model: Model, objective: Objective) -> Params:
        return gradients(params, X, Y, model, change(objective))

    return impl


# -- the swapped rules ------------------------------------------------------


def _flipped_output_delta(
    objective: Objective, phi: Activation, Z: Array, A: Array, Y: Array
) -> Array:
    # V2 = -2 (A3 - Y) ... : (Y - A) written the other way round
    return -output_delta(objective, phi, Z, A, Y)


def _output_delta_without_derivative(
    objective: Objective, phi: Activation, Z: Array, A: Array, Y: Array
) -> Array:
    # V2 = dJ/dA3 : the factor A3 (1 - A3) forgotten
    return data_gradient(objective, A, Y)


def _hidden_delta_without_derivative(
    phi: Activation, Z: Array, A: Array, W_next: Array, V_next: Array
) -> Array:
    # V1 = W2^T V2 : the factor A2 (1 - A2) forgotten
    return W_next.T @ V_next


def _hidden_derivative_on_z(
    phi: Activation, Z: Array, A: Array, W_next: Array, V_next: Array
) -> Array:
    # V1 = Z1 (1 - Z1) * W2^T V2 : the derivative written in A, evaluated at Z
    return phi.backward(Z, Z, W_next.T @ V_next)


def _hidden_delta_off_by_one(
    phi: Activation, Z: Array, A: Array, W_next: Array, V_next: Array
) -> Array:
    # folded bias: V1 = V1[:-1] instead of V1[1:] keeps the (zero) bias row and
    # drops the last unit's row, so every unit receives its neighbour's delta
    V = hidden_delta(phi, Z, A, W_next, V_next)
    return np.vstack([np.zeros((1, V.shape[1])), V[:-1]])


def _data_part(params: Params, X: Array, Y: Array, model: Model, objective: Objective) -> Params:
    """The data term's share of the declared gradient (the penalty switched off)."""
    return gradients(params, X, Y, model, objective.with_(C=0.0))


def _per_layer(depth: int) -> tuple[dict[str, Any], ...]:
    return tuple({"layer": l} for l in range(1, depth + 1))


def _sign_flipped_in_one_layer(
    params: Params, X: Array, Y: Array, model: Model, objective: Objective, *, layer: int = 1
) -> Params:
    # V1 = A2 * (A2 - 1) * (W2^T V2) (the derivative written the wrong way round) flips
    # layer 1's data part only; the penalty C·W is added afterwards with its own sign
    g, d = gradients(params, X, Y, model, objective), _data_part(params, X, Y, model, objective)
    i = layer - 1
    W, b = list(g.W), list(g.b)
    W[i], b[i] = g.W[i] - 2 * d.W[i], g.b[i] - 2 * d.b[i]
    return Params(W, b)


def _bias_gradient_missing(
    params: Params, X: Array, Y: Array, model: Model, objective: Objective, *, layer: int = 1
) -> Params:
    # gradb1 = np.zeros(...) (or never summed): that layer's bias never learns
    g = gradients(params, X, Y, model, objective)
    b = list(g.b)
    b[layer - 1] = np.zeros_like(b[layer - 1])
    return Params(list(g.W), b)


def _weights_or_biases(depth: int) -> tuple[dict[str, Any], ...]:
    return ({"averaged": "weights"}, {"averaged": "biases"})


def _averaged_one_kind(
    params: Params,
    X: Array,
    Y: Array,
    model: Model,
    objective: Objective,
    *,
    averaged: str = "weights",
) -> Params:
    # gradW = (V @ A.T + C·W) / N while gradb = sum(V) (or the reverse): one kind of array
    # follows J/N, the other J
    summed = gradients(
        params, X, Y, model, objective.with_(reduction="sum", penalty=_unpenalised(objective))
    )
    N = X.shape[1]
    if averaged == "weights":
        return Params([W / N for W in summed.W], list(summed.b))
    if averaged == "biases":
        return Params(list(summed.W), [b / N for b in summed.b])
    raise ValueError(f"averaged must be 'weights' or 'biases', got {averaged!r}")


def _unpenalised(objective: Objective) -> str:
    # the penalty form whose value does not scale with N
    return "l2_half" if objective.penalty == "l2_half_mean" else objective.penalty


for _m in (
    Misconception(
        name="sign_flip_output_delta",
        kind="gradient",
        title="sign flipped in the output sensitivity",
        description="V2 is computed with (A3 - Y) where the lecture has (Y - A3) (or the minus sign is dropped), so the data part of every gradient points uphill.",
        topic=BACKPROP,
        signature="every layer's gradient roughly opposite to the reference (cosine near -1; the penalty part keeps its sign); the cost rises every epoch",
        next_step="Re-derive dJ/dA3 for J = ||Y - A3||^2: it is -2 (Y - A3). Check the sign by nudging one weight by +h and seeing which way J moves.",
        impl=_with_rules(replace(REFERENCE_RULES, output_delta=_flipped_output_delta)),
    ),
    Misconception(
        name="missing_output_derivative",
        kind="gradient",
        title="output activation's derivative missing",
        description="V2 = -2 (Y - A3) without the factor A3 (1 - A3): the derivative of the output sigmoid is left out of the chain rule.",
        topic=BACKPROP,
        signature="direction close to the reference (cosine about 0.97-0.99) but magnitudes differ (relative error about 0.7); the network still trains, so a 'loss goes down' check misses it",
        next_step="Apply the chain rule through the output layer: dJ/dZ2 = dJ/dA3 * dA3/dZ2, and for the sigmoid dA3/dZ2 = A3 (1 - A3). (With cross-entropy the product collapses to A3 - Y; with squared error it does not.)",
        impl=_with_rules(replace(REFERENCE_RULES, output_delta=_output_delta_without_derivative)),
    ),
    Misconception(
        name="missing_hidden_derivative",
        kind="gradient",
        title="hidden layer's derivative missing",
        description="V1 = W2^T V2 without the factor A2 (1 - A2): the hidden sigmoid's derivative is left out when the sensitivity is passed back.",
        topic=BACKPROP,
        signature="the last layer's gradient is exact; only the earlier layers differ (relative error about 0.7, cosine about 0.95)",
        next_step="In the recurrence V1 = A2 * (1 - A2) * (W2^T V2), every hidden layer multiplies by its own activation's derivative. Write the derivative next to the activation it belongs to.",
        impl=_with_rules(replace(REFERENCE_RULES, hidden_delta=_hidden_delta_without_derivative)),
    ),
    Misconception(
        name="derivative_on_z",
        kind="gradient",
        title="activation derivative evaluated at Z instead of A",
        description="V1 = Z1 * (1 - Z1) * (W2^T V2): the sigmoid's derivative A (1 - A) is written in terms of the activation but is fed the pre-activation Z.",
        topic=BACKPROP,
        signature="the last layer's gradient is exact; the earlier layers are far off and often point the wrong way (cosine about -0.5)",
        next_step="sigma'(z) = sigma(z) (1 - sigma(z)) = A (1 - A): use the layer's activation A2, not Z1, in that formula.",
        impl=_with_rules(replace(REFERENCE_RULES, hidden_delta=_hidden_derivative_on_z)),
    ),
    Misconception(
        name="bias_row_off_by_one",
        kind="gradient",
        title="wrong row dropped from V1 (folded bias)",
        description="With the bias folded into W, V1 = V1[:-1] (or equivalent) keeps the bias row and drops the last unit's row, so each hidden unit gets its neighbour's sensitivity.",
        topic=BACKPROP,
        signature="the last layer's gradient is exact; the first layer's gradient is nearly orthogonal to the reference (cosine about 0)",
        next_step="Row 0 of V1 belongs to the constant bias unit, which has no incoming weights: drop it with V1[1:, :], then print V1.shape next to W1.shape to check they line up.",
        impl=_with_rules(replace(REFERENCE_RULES, hidden_delta=_hidden_delta_off_by_one)),
    ),
    Misconception(
        name="bias_regularised",
        kind="gradient",
        title="bias included in the penalty",
        description="The L2 (or L1) penalty's gradient is also added to the biases (or to the bias column of a folded W).",
        topic=REGULARISATION,
        signature="weights exact; only the bias gradients differ, by exactly the penalty term on b; passes a loose tolerance (relative error about 0.02)",
        next_step="Regularise only the weights: the penalty shrinks W to limit the model's slope, while a bias just shifts it. With a folded bias, add C*W only to W[:, 1:].",
        impl=_with_objective(lambda o: o.with_(penalize_bias=True)),
    ),
    Misconception(
        name="averaged_data_not_penalty",
        kind="gradient",
        title="data term averaged, penalty not",
        description="The data part of the gradient is divided by N (a mean over instances) but the penalty's gradient is added at full strength.",
        topic=REGULARISATION,
        signature="direction and size both differ from the summed objective (relative error about 0.65); the balance between fit and penalty changes with the batch size",
        next_step="Decide which objective you minimise and differentiate all of it: either sum the data term and use C·W, or average it and use (C/N)·W. Mixing them makes C mean something different for every batch size.",
        impl=_with_objective(
            lambda o: o.with_(reduction="mean_instances", penalty=_unpenalised(o))
        ),
    ),
    Misconception(
        name="penalty_doubled",
        kind="gradient",
        title="penalty gradient twice too large",
        description="For C/2·||W||^2 the gradient C·W is written 2C·W (the 1/2 forgotten when differentiating).",
        topic=REGULARISATION,
        signature="the difference from the reference is exactly one more penalty term (factor 2 on the penalty part); visible only with a large C",
        next_step="d/dW (C/2 ||W||^2) = C W: the 2 from the square cancels the 1/2. Check by gradient-checking with the data term switched off.",
        impl=_with_objective(lambda o: o.with_(C=2 * o.C)),
    ),
    Misconception(
        name="penalty_halved",
        kind="gradient",
        title="penalty gradient half what it should be",
        description="For C·||W||^2 the gradient is written C·W instead of 2C·W.",
        topic=REGULARISATION,
        signature="the difference from the reference is exactly half the penalty term (factor 1/2 on the penalty part); visible only with a large C",
        next_step="d/dW (C ||W||^2) = 2 C W. Check by gradient-checking with the data term switched off.",
        impl=_with_objective(lambda o: o.with_(C=0.5 * o.C)),
    ),
    Misconception(
        name="sign_flip_one_layer",
        kind="gradient",
        title="sign flipped in one layer's gradient only",
        description="One layer's gradient (its weights and its bias) has the opposite sign of the data term's while every other layer is right: e.g. the hidden sigmoid's derivative written A2 (A2 - 1) instead of A2 (1 - A2), or that layer's products written with the minus sign dropped. The penalty's C·W, added afterwards, keeps its sign.",
        topic=BACKPROP,
        signature="one layer's data gradient is exactly -1x the expected (cosine -1 with no penalty); every other layer matches exactly",
        next_step="Find the one layer whose sign differs: gradient-check that layer alone (nudge one of its weights by +h and see which way J moves). In the hidden layer, the sigmoid's derivative is A (1 - A), which is never negative.",
        impl=_sign_flipped_in_one_layer,
        variants=_per_layer,
    ),
    Misconception(
        name="bias_gradient_missing",
        kind="gradient",
        title="one layer's bias gradient missing (all zeros)",
        description="One layer's bias gradient is left at zero (created with np.zeros and never filled, or its update skipped), so that bias never learns; every weight gradient is right.",
        topic=BACKPROP,
        signature="one db is all zeros where the reference's is not; every other array matches exactly",
        next_step="A bias gradient is the sensitivity summed over the instances: gradb = np.sum(V, axis=1).reshape(-1, 1) for every layer, the output layer's and each hidden one's.",
        impl=_bias_gradient_missing,
        variants=_per_layer,
    ),
    Misconception(
        name="averaged_weights_or_biases_only",
        kind="gradient",
        title="averaged over N for the weights but not the biases (or the reverse)",
        description="The weight gradients are divided by N (a mean over the instances) while the bias gradients are summed, or the biases are averaged and the weights summed: the two kinds of arrays follow two different objectives, J/N and J.",
        topic=REGULARISATION,
        signature="every weight gradient is exactly 1/N of the summed objective's while every bias gradient is the summed one (or the reverse); the direction of the whole gradient changes with N",
        next_step="Divide every array by N or none: dW and db of every layer are derivatives of the same J (J/N is accepted where the check says so). Where you write / X.shape[0] for the weights, do the same for the biases.",
        impl=_averaged_one_kind,
        variants=_weights_or_biases,
    ),
):
    register(_m)
