"""A tiny child-side probe module for the sandbox tests (stdlib and numpy only)."""


def add(ns, inputs, params):
    """The student's ``add(x, k)`` on input x."""
    return {"y": ns["add"](inputs["x"], params["k"])}


def raw(ns, inputs, params):
    """Whatever dict the student's function ``params["fn"]`` returns, unchanged."""
    return ns[params["fn"]](**inputs)


def baseline(inputs, params):
    """A timed probe's baseline (grader code: it runs before the submission loads)."""
    if params.get("hang_baseline"):
        import time

        time.sleep(10**6)
    return {"checksum": inputs["x"].sum()}
