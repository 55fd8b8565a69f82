"""A tiny child-side probe module for the sandbox tests (stdlib and numpy only)."""


def add(ns, inputs, params):
    """The student's ``add(x, k)`` on input x."""
    return {"y": ns["add"](inputs["x"], params["k"])}


def raw(ns, inputs, params):
    """Whatever dict the student's function ``params["fn"]`` returns, unchanged."""
    return ns[params["fn"]](**inputs)
