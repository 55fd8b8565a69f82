"""Write ``submissions/hostile/kit_lookup.py``: a submission with no network, only a table
of a student kit's answers, looked up by a hash of each call's inputs.

    python submissions/make_kit_lookup.py

It builds the kit of ``rubrics/mlp_backprop.toml`` (:func:`grader.kit.build_kit`, what a
student is handed) in a temporary folder and turns its ``expectations.npz`` into a table:
for every public probe the kit holds expected values for, the hash of the inputs the
template's function receives -> the values it must return. A call whose inputs are not in
the table gets what a student without a network could return (a constant forward pass,
the penalty's gradient alone, the rate unchanged, zeros).

On the kit's problems the table earns every check it answers; the instructor's grading
draws its problems afresh (:func:`grader.plan.instructor_problems`), where it must earn
nothing (``tests/grader/test_kit.py``, ``tests/grader/test_e2e_hostile.py``). Run this
again when the shipped rubric's public checks or the kit's format change (the kit test
says so).
"""

from __future__ import annotations

import base64
import json
import pprint
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
OUT = ROOT / "submissions" / "hostile" / "kit_lookup.py"

Array = np.ndarray

# The submission: HASHING is both its lookup key and this script's (one definition).
HASHING = '''
import base64
import hashlib

import numpy as np


def _key(name, *args):
    """sha256 of the function's name and its arguments (arrays by dtype, shape and bytes)."""
    h = hashlib.sha256(name.encode())

    def feed(value):
        if isinstance(value, dict):
            for k in sorted(value):
                h.update(k.encode())
                feed(value[k])
        elif isinstance(value, np.ndarray):
            a = np.asarray(value, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        else:
            h.update(repr(value).encode())

    for arg in args:
        feed(arg)
    return h.hexdigest()


def _array(packed):
    dtype, shape, data = packed
    return np.frombuffer(base64.b64decode(data), dtype=dtype).reshape(shape).copy()


def _answer(name, *args):
    """The kit's answer to this call, or None when the kit never asked it."""
    found = TABLE.get(name, {}).get(_key(name, *args))
    if found is None:
        return None
    if isinstance(found, dict):
        return {k: _array(v) for k, v in found.items()}
    if isinstance(found, list):
        return [_array(v) if isinstance(v, tuple) else {k: _array(a) for k, a in v.items()} for v in found]
    return _array(found)
'''

FUNCTIONS = '''

def _weights(params):
    return [k for k in params if k.startswith("W")]


def forward(params, X):
    """A1 = X, then the kit's A_out for every layer; 0.5 everywhere on a problem it never asked."""
    L = len(params) // 2
    found = _answer("forward", params, X)
    if found is None:
        found = np.full((params[f"W{L}"].shape[0], X.shape[1]), 0.5)
    return [X, *([found] * L)]


def cost(params, X, Y, C):
    found = _answer("cost", params, X, Y, C)
    if found is not None:
        return float(found)
    return float(np.sum((Y - 0.5) ** 2) + C / 2 * sum(np.sum(params[k] ** 2) for k in _weights(params)))


def gradients(params, X, Y, C):
    found = _answer("gradients", params, X, Y, C)
    if found is not None:
        return found
    return {f"d{k}": C * v if k.startswith("W") else np.zeros_like(v) for k, v in params.items()}


def momentum_step(params, grads, rho_prev, eta, alpha):
    found = _answer("momentum_step", grads)
    rho = {k: np.zeros_like(v) for k, v in params.items()}
    return (found if found is not None else dict(params)), rho


def learning_rate(eta0, d, epoch):
    found = _answer("learning_rate", eta0, d, epoch)
    return float(found) if found is not None else eta0


def one_hot(y, K):
    found = _answer("one_hot", y, K)
    return found if found is not None else np.zeros((K, len(y)))


def predict(params, X):
    found = _answer("predict", params, X)
    return found if found is not None else np.zeros(X.shape[1], dtype=np.int64)


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    found = _answer("train", params, X, y, orders)
    if found is not None:
        return found[0], found[1], found[2]
    return dict(params), np.zeros(len(orders)), np.zeros(len(orders) + 1)
'''

HEADER = """# Hostile submission: the student kit as an answer key (submissions/hostile/README.md).
# No network: every function looks its inputs up, by a sha256 of them, in a table of the
# answers shipped in the kit of rubrics/mlp_backprop.toml (its expectations.npz), and
# returns what a student without a network could (a constant forward pass, the penalty's
# gradient alone, zeros) on a problem the kit never asked.
# Generated by submissions/make_kit_lookup.py; do not edit.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.
"""


def _packed(a: Array) -> tuple[str, tuple[int, ...], str]:
    a = np.asarray(a, order="C")
    return (a.dtype.str, a.shape, base64.b64encode(a.tobytes()).decode("ascii"))


def _hashing() -> Callable[..., str]:
    namespace: dict[str, Any] = {}
    exec(HASHING, namespace)  # our own source, above
    key: Callable[..., str] = namespace["_key"]
    return key


def table(kit: Path) -> dict[str, dict[str, Any]]:
    """Function name -> {hash of its arguments -> its packed answer}, from a kit's files."""
    key = _hashing()
    manifest = json.loads((kit / "kit.json").read_text(encoding="utf-8"))
    with np.load(kit / "expectations.npz", allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    out: dict[str, dict[str, Any]] = {}

    def put(name: str, answer: Any, *args: Any) -> None:
        out.setdefault(name, {})[key(name, *args)] = answer

    for probe in manifest["probes"]:
        prefix, p = probe["input_prefix"], probe["params"]
        inputs = {n.removeprefix(prefix): arrays[f"inputs/{n}"] for n in probe["inputs"]}
        exp = {n: arrays[f"expected/{probe['id']}/{n}"] for n in probe["expected"]}
        params = {k: v for k, v in inputs.items() if k[0] in "Wb" and k[1:].isdigit()}
        call = probe["call"]
        if call == "forward":
            put("forward", _packed(exp["A_out"]), params, inputs["X"])
        elif call in ("gradients", "cost"):
            answer: Any = (
                {k: _packed(v) for k, v in exp.items()}
                if call == "gradients"
                else _packed(exp["cost"])
            )
            put(call, answer, params, inputs["X"], inputs["Y"], float(p["C"]))
        elif call == "optimizer":
            for t in range(inputs[f"d{next(iter(params))}"].shape[0]):
                grads = {f"d{k}": inputs[f"d{k}"][t] for k in params}
                put("momentum_step", {k: _packed(exp[k][t]) for k in params}, grads)
        elif call == "schedule":
            for k, eta in enumerate(exp["eta"]):
                put("learning_rate", _packed(eta), float(p["eta"]), float(p["decrease_const"]), k)
        elif call == "one_hot":
            put("one_hot", _packed(exp["Y"]), inputs["y"], int(p["n_classes"]))
        elif call == "predict":
            put("predict", _packed(exp["labels"]), params, inputs["X"])
        elif call == "train":
            trained = {k: _packed(exp[k]) for k in params}
            answer = [trained, _packed(exp["cost"]), _packed(exp["accuracy"])]
            put("train", answer, params, inputs["X"], inputs["y"], inputs["orders"])
    return out


def source(kit: Path) -> str:
    """The submission's text for ``kit``."""
    text = pprint.pformat(table(kit), width=100, sort_dicts=True)
    return f"{HEADER}{HASHING}\n\nTABLE = {text}\n{FUNCTIONS}"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from grader.kit import build_kit

    with tempfile.TemporaryDirectory() as tmp:
        kit = build_kit(RUBRIC, Path(tmp) / "kit")
        OUT.write_text(source(kit), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
