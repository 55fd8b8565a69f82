# ruff: noqa: F821  (np and ProbeUnsupported are predefined where the grader runs this file)
"""Custom adapter (test-only, beside template_adam.toml): the template's Adam step.

The student's ``optimizer_step(params, grads, state, eta, method, hyper)`` returns
``(new_params, state)``; ``state`` is None before the first step. ``np`` and
``ProbeUnsupported`` are predefined by the grader (README, "A custom adapter file").
"""

METHOD = "adam"
HYPER = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}  # the reference's Adam defaults


def optimizer(ns, inputs, params):
    """Parameters after each of T steps, {"W1": (T, H, D), ..., "b1": (T, H, 1), ...}."""
    step = ns.get("optimizer_step")
    if not callable(step):
        raise ProbeUnsupported("the submission defines no optimizer_step function")
    P = {k: inputs[k].copy() for k in inputs if k[0] in "Wb" and k[1:].isdigit()}
    T = inputs["d" + next(iter(P))].shape[0]
    hyper = dict(HYPER)
    state, trail = None, {k: [] for k in P}
    for t in range(T):
        grads = {"d" + k: inputs["d" + k][t].copy() for k in P}
        P, state = step(P, grads, state, float(params["eta"]), METHOD, dict(hyper))
        for k in trail:
            trail[k].append(np.array(P[k], dtype=np.float64))
    return {k: np.stack(v) for k, v in trail.items()}
