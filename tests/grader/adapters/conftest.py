"""Shared helpers: our own sample submissions executed IN-PROCESS (tests only) and a probe runner.

The real grader never runs student code in the parent; these tests do, on the
samples in ``submissions/correct/``, to check that prepare -> child probe ->
to_canonical reproduces the reference's expected values.
"""

from __future__ import annotations

import ast
import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from grader.adapters import child_probes
from grader.adapters.binding import AdapterBinding, binding_for
from grader.probes import expected, output_specs, student_inputs, to_canonical
from reference.params import Params

ROOT = Path(__file__).resolve().parents[3]
CORRECT = ROOT / "submissions" / "correct"

_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


def definitions(source: str) -> str:
    """Only imports, functions and classes (a stand-in for the grader's definitions mode)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    tree.body = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
    return ast.unparse(tree)


def load_sample(name: str) -> dict[str, Any]:
    """Execute a sample's definitions into a fresh namespace."""
    path = next(CORRECT.glob(f"{name}.*"))
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    else:
        source = path.read_text(encoding="utf-8")
    ns: dict[str, Any] = {"__name__": "student"}
    exec(compile(definitions(source), str(path), "exec"), ns)
    return ns


def problem(sizes: tuple[int, ...] = (5, 4, 3), N: int = 7, seed: int = 1) -> dict[str, np.ndarray]:
    """Canonical W1.., b1.., X (D, N), Y (K, N), y (N,) with every class present; non-square."""
    rng = np.random.default_rng(seed)
    layers = list(itertools.pairwise(sizes))
    P = Params(
        [rng.uniform(-1, 1, (o, i)) for i, o in layers],
        [rng.uniform(-0.5, 0.5, (o, 1)) for _, o in layers],
    )
    K = sizes[-1]
    y = np.concatenate([np.arange(K), rng.integers(0, K, N - K)])
    return P.as_dict() | {
        "X": rng.normal(size=(sizes[0], N)),
        "Y": np.eye(K)[:, y],
        "y": y.astype(np.int64),
    }


def run_probe(
    call: str,
    binding: AdapterBinding,
    ns: Mapping[str, Any],
    probe_params: Mapping[str, Any],
    canonical: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """prepare -> child function -> shape check -> to_canonical; returns (student, reference)."""
    inputs, ctx = student_inputs(call, binding, probe_params, canonical)
    params = json.loads(json.dumps(ctx.child_params()))  # what crosses to the child is JSON
    raw = getattr(child_probes, call)(ns, inputs, params)
    specs = output_specs(call, binding, ctx.sizes)
    assert {k: v.shape for k, v in raw.items()} == specs
    return to_canonical(call, binding, raw), expected(ctx)


def assert_close(
    got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray], tol: float = 1e-10
) -> None:
    """Same names, and every array equal to a relative tolerance."""
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=tol, atol=tol, err_msg=k)


@pytest.fixture(scope="session")
def template_ns() -> dict[str, Any]:
    return load_sample("template_ok")


@pytest.fixture(scope="session")
def separate_ns() -> dict[str, Any]:
    return load_sample("course_separate_ok")


@pytest.fixture(scope="session")
def folded_ns() -> dict[str, Any]:
    return load_sample("course_folded_ok")


@pytest.fixture(scope="session")
def textbook_ns() -> dict[str, Any]:
    return load_sample("textbook_rows_ok")


@pytest.fixture
def canonical() -> dict[str, np.ndarray]:
    return problem()


__all__ = ["assert_close", "binding_for", "load_sample", "problem", "run_probe"]
