"""Misconceptions of kind "training": a wrong training loop around correct gradients.

Every ``impl`` has the signature of :func:`reference.training.train`::

    impl(params0, X, y, config, batches=None, X_val=None, y_val=None) -> (Params, Trace)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reference.misconceptions import Misconception, register
from reference.params import Params
from reference.training import (
    BatchOrder,
    Trace,
    TrainConfig,
    check_batches,
    private_rng,
    train,
    train_with_orders,
)

Array = np.ndarray


def separate_orders(
    N: int, epochs: int, minibatches: int, shuffle: str, seed: int | None
) -> tuple[BatchOrder, BatchOrder]:
    """Inputs' and targets' batch orders when each gets its own permutation every epoch.

    The buggy loop, written into the course's ``fit``::

        X_data = X_data[np.random.permutation(N)]
        Y_enc = Y_enc[:, np.random.permutation(N)]      # a second draw: pairs broken

    Both draws come from the same stream (X's first), composing over epochs
    for ``"course"`` and applied to the original order for ``"seeded"``.
    """
    positions = np.array_split(np.arange(N), minibatches)
    if shuffle == "none":
        same = [[pos.copy() for pos in positions] for _ in range(epochs)]
        return same, same
    rng = private_rng(seed, f"shuffle {shuffle!r}")
    ox, oy = np.arange(N), np.arange(N)
    x_order: BatchOrder = []
    y_order: BatchOrder = []
    for _ in range(epochs):
        p, q = rng.permutation(N), rng.permutation(N)
        ox, oy = (ox[p], oy[q]) if shuffle == "course" else (p, q)
        x_order.append([ox[pos] for pos in positions])
        y_order.append([oy[pos] for pos in positions])
    return x_order, y_order


def xy_shuffled_separately(
    params0: Params,
    X: Array,
    y: Array,
    config: TrainConfig,
    batches: Sequence[Sequence[Array]] | None = None,
    X_val: Array | None = None,
    y_val: Array | None = None,
) -> tuple[Params, Trace]:
    """:func:`reference.training.train` with the targets shuffled apart from the inputs.

    Without ``batches``: the orders of :func:`separate_orders` from the config.
    With ``batches`` (the inputs' order): each epoch the targets are taken
    through one more permutation r_k drawn from ``RandomState(config.seed)``,
    i.e. instance i is paired with the target of instance r_k[i].
    With ``shuffle="none"`` nothing is shuffled, so nothing is mismatched and
    this equals the reference.
    """
    N, E = np.shape(X)[0], config.epochs
    if config.shuffle == "none":
        return train(params0, X, y, config, batches, X_val, y_val)
    if batches is None:
        x_order, y_order = separate_orders(N, E, config.minibatches, config.shuffle, config.seed)
    else:
        x_order = check_batches(batches, N, E)
        rng = private_rng(config.seed, f"shuffle {config.shuffle!r}")
        y_order = []
        for epoch in x_order:
            r = rng.permutation(N)
            y_order.append([r[idx] for idx in epoch])
    return train_with_orders(params0, X, y, config, x_order, y_order, X_val, y_val)


register(
    Misconception(
        name="xy_shuffled_separately",
        kind="training",
        title="inputs and labels shuffled with different permutations",
        description=(
            "Each epoch X and Y are shuffled with two different permutations "
            "(e.g. two calls to np.random.permutation, or shuffling only one of them), "
            "so after the first shuffle each input is paired with another instance's label."
        ),
        topic="mini-batch training",
        signature=(
            "gradients are correct but the network learns noise: training accuracy stays "
            "near 1/K and the cost stalls near that of predicting the class frequencies "
            "(docs/conventions.md §5)"
        ),
        next_step=(
            "Draw one permutation per epoch and apply the same index to every array that "
            "describes an instance: idx = np.random.permutation(N); X, Y, y = X[idx], "
            "Y[:, idx], y[idx]. Check it by asserting that argmax(Y, axis=0) still equals y "
            "after shuffling."
        ),
        impl=xy_shuffled_separately,
    )
)
