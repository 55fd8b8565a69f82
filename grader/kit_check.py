"""The student kit, student side: a self-check from the kit's files alone, without ``reference``.

    result = grade_with_kit("my_notebook.ipynb", "mlp-kit/")

A kit folder (written by :func:`grader.kit.build_kit`) holds::

    kit.json          the manifest: format, versions, file hashes, the plan of the public
                      checks (probe calls, output contracts, check -> probe) and, per
                      probe, the documentation of each candidate (misconception or convention)
    rubric.toml       the public rubric (hidden checks removed from the file itself)
    expectations.npz  numeric arrays only (loaded with allow_pickle=False): each probe's
                      inputs in the student's layout, its expected canonical outputs, each
                      candidate's outputs on the same inputs, the penalty's gradient
    probes.py         the child's probe module (grader.adapters.probe_module_source)
    grader/           the part of the grader this module needs (no plan, no reference)

:class:`KitOracle` hands those to the same engine the instructor uses
(:func:`grader.pipeline.grade_with`), so the kit's verdicts are the instructor's
on the public checks. This module defines the kit's format; the builder writes
it with :func:`manifest_probe` and :func:`probe_arrays`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

import grader
from grader.adapters.binding import AdapterBinding
from grader.checks import ProbeView
from grader.diagnose import Candidate, CandidateKind
from grader.pipeline import (
    Expectations,
    GradeSettings,
    JobPlan,
    PlannedCall,
    grade_with,
)
from grader.results import GradeResult
from grader.rubric import AS_WRITTEN, Rubric, RubricError, read_rubric
from grader.sandbox import OutputSpec, ProbeCall

Array = np.ndarray

FORMAT = "grader-kit/1"
MANIFEST = "kit.json"
RUBRIC = "rubric.toml"
EXPECTATIONS = "expectations.npz"
PROBE_MODULE = "probes.py"
HASHED = (RUBRIC, EXPECTATIONS, PROBE_MODULE)  # kit.json records each one's sha256

_CANDIDATE_DOCS = ("name", "kind", "title", "description", "topic", "next_step", "signature")


class KitError(ValueError):
    """The kit folder is missing, damaged or from another grader: one sentence."""


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------
# The format, both ways: array keys, and the manifest's entry of one probe


def input_key(name: str) -> str:
    return f"inputs/{name}"


def expected_key(probe_id: str, name: str) -> str:
    return f"expected/{probe_id}/{name}"


def penalty_key(probe_id: str, name: str) -> str:
    return f"penalty/{probe_id}/{name}"


def candidate_key(probe_id: str, index: int, name: str) -> str:
    return f"candidates/{probe_id}/{index}/{name}"


def _spec_json(spec: OutputSpec) -> dict[str, Any]:
    return {
        "shape": None if spec.shape is None else list(spec.shape),
        "ndim": spec.ndim,
        "max_elements": spec.max_elements,
    }


def _spec_from(d: Mapping[str, Any]) -> OutputSpec:
    shape = d.get("shape")
    return OutputSpec(
        shape=None if shape is None else tuple(shape),
        ndim=d.get("ndim"),
        max_elements=int(d.get("max_elements", OutputSpec.max_elements)),
    )


def manifest_probe(
    probe: PlannedCall,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> dict[str, Any]:
    """The manifest's entry of one probe (its arrays: :func:`probe_arrays`)."""
    return {
        **probe.call.as_plan(),
        "outputs": {name: _spec_json(s) for name, s in probe.outputs.items()},
        "checks": list(probe.checks),
        "expected": list(expected),
        "penalty": None if penalty is None else list(penalty),
        "candidates": [
            {**{k: getattr(c, k) for k in _CANDIDATE_DOCS}, "arrays": list(c.arrays)}
            for c in candidates
        ],
    }


def probe_arrays(
    probe_id: str,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> dict[str, Array]:
    """The arrays of one probe's entry, keyed as the kit stores them (numeric only)."""
    out = {expected_key(probe_id, k): v for k, v in expected.items()}
    out |= {penalty_key(probe_id, k): v for k, v in (penalty or {}).items()}
    for i, c in enumerate(candidates):
        out |= {candidate_key(probe_id, i, k): v for k, v in c.arrays.items()}
    return {k: np.asarray(v) for k, v in out.items()}


# ---------------------------------------------------------------------------
# Loading


@dataclass(frozen=True)
class Kit:
    """A loaded kit: the public rubric, the plan, the precomputed answers."""

    root: Path
    manifest: Mapping[str, Any]
    rubric: Rubric
    plan: JobPlan
    expectations: Expectations

    @property
    def probe_module(self) -> Path:
        return self.root / PROBE_MODULE


def is_kit(folder: Path | str) -> bool:
    """Whether ``folder`` holds a kit manifest."""
    return (Path(folder) / MANIFEST).is_file()


def _read_manifest(root: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except OSError as e:
        raise KitError(f"{root}: no readable {MANIFEST} ({e.strerror or e})") from None
    except ValueError:
        raise KitError(
            f"{root / MANIFEST} is not valid JSON: get a fresh copy of the kit"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise KitError(f"{root / MANIFEST} has format {found!r}; this grader reads {FORMAT!r}")
    if manifest.get("grader") != grader.__version__:
        raise KitError(
            f"this kit was built by grader {manifest.get('grader')!r} but grader "
            f"{grader.__version__!r} is running: run the kit's own copy (python check.py ...)"
        )
    for name in HASHED:
        path = root / name
        if not path.is_file():
            raise KitError(f"the kit in {root} has no {name}: get a fresh copy of the kit")
        if sha256_file(path) != manifest.get("files", {}).get(name):
            raise KitError(
                f"{path} does not match {MANIFEST} (it changed after the kit was built): "
                "get a fresh copy of the kit"
            )
    return manifest


def _load_arrays(path: Path) -> dict[str, Array]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise KitError(f"{path} cannot be read as numeric arrays ({e})") from None


def _get(arrays: Mapping[str, Array], key: str) -> Array:
    if key not in arrays:
        raise KitError(f"the kit's {EXPECTATIONS} has no array {key!r}: get a fresh copy")
    return arrays[key]


def _candidate(
    entry: Mapping[str, Any], probe_id: str, i: int, arrays: Mapping[str, Array]
) -> Candidate:
    docs = {k: str(entry.get(k, "")) for k in _CANDIDATE_DOCS}
    kind: CandidateKind = "convention" if docs["kind"] == "convention" else "misconception"
    return Candidate(
        name=docs["name"],
        kind=kind,
        arrays={k: _get(arrays, candidate_key(probe_id, i, k)) for k in entry["arrays"]},
        title=docs["title"],
        description=docs["description"],
        topic=docs["topic"],
        next_step=docs["next_step"],
        signature=docs["signature"],
    )


def _plan_and_expectations(
    manifest: Mapping[str, Any], arrays: Mapping[str, Array]
) -> tuple[JobPlan, Expectations]:
    probes: list[PlannedCall] = []
    expected: dict[str, Mapping[str, Array]] = {}
    candidates: dict[str, Sequence[Candidate]] = {}
    penalties: dict[str, Mapping[str, Array]] = {}
    used: set[str] = set()
    for entry in manifest["probes"]:
        pid = str(entry["id"])
        call = ProbeCall(
            id=pid,
            call=str(entry["call"]),
            params=entry["params"],
            inputs=tuple(entry["inputs"]),
            timeout=float(entry["timeout"]),
            input_prefix=str(entry["input_prefix"]),
        )
        outputs = MappingProxyType({k: _spec_from(v) for k, v in entry["outputs"].items()})
        probes.append(PlannedCall(call, outputs, tuple(entry["checks"])))
        used |= set(call.inputs)
        exp = {k: _get(arrays, expected_key(pid, k)) for k in entry["expected"]}
        cands = [_candidate(c, pid, i, arrays) for i, c in enumerate(entry["candidates"])]
        pen = entry.get("penalty")
        for check in entry["checks"]:
            expected[check], candidates[check] = exp, cands
            if pen is not None:
                penalties[check] = {k: _get(arrays, penalty_key(pid, k)) for k in pen}
    inputs = {name: _get(arrays, input_key(name)) for name in sorted(used)}
    plan = JobPlan(
        tuple(probes),
        MappingProxyType(inputs),
        MappingProxyType(dict(manifest["probe_of"])),
        MappingProxyType(dict(manifest.get("problems", {}))),
    )
    return plan, Expectations(expected, candidates, penalties)


def load_kit(folder: Path | str) -> Kit:
    """Read and check a kit folder; KitError (one sentence) when it is not a usable kit."""
    root = Path(folder)
    manifest = _read_manifest(root)
    try:
        # as written: the builder wrote this rubric from one it validated against the reference
        rubric = read_rubric((root / RUBRIC).read_bytes(), root / RUBRIC, AS_WRITTEN)
    except RubricError as e:
        raise KitError(f"the kit's rubric is damaged: {e}") from None
    try:
        plan, exp = _plan_and_expectations(manifest, _load_arrays(root / EXPECTATIONS))
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, KitError):
            raise
        raise KitError(f"{root / MANIFEST} is damaged ({type(e).__name__}: {e})") from None
    unplanned = [
        c.id for c in rubric.checks if c.id not in plan.probe_of and c.id not in plan.problems
    ]
    if unplanned:
        raise KitError(f"{root / MANIFEST} plans no probe for check {unplanned[0]!r}")
    return Kit(root, MappingProxyType(manifest), replace(rubric, hidden_removed=True), plan, exp)


# ---------------------------------------------------------------------------
# Grading


class KitOracle:
    """The kit's plan and precomputed answers, for :func:`grader.pipeline.grade_with`."""

    fixed_plan = True  # its questions are stored in the rubric binding's layout

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    def plan(self, binding: AdapterBinding) -> JobPlan:
        return self.kit.plan

    def probe_module(self, binding: AdapterBinding, directory: Path) -> Path:
        path = Path(directory) / "probes.py"
        shutil.copyfile(self.kit.probe_module, path)
        return path

    def expectations(self, plan: JobPlan, views: Mapping[str, ProbeView]) -> Expectations:
        return self.kit.expectations

    def provenance(self) -> dict[str, Any]:
        m = self.kit.manifest
        return {
            "reference": m.get("reference"),
            "kit": {"format": m["format"], "source_rubric_hash": m["rubric"]["source_hash"]},
        }


def grade_with_kit(
    path: Path | str, kit: Kit | Path | str, settings: GradeSettings | None = None
) -> GradeResult:
    """Grade one submission on the kit's public checks (``kit``: a loaded kit or its folder)."""
    loaded = kit if isinstance(kit, Kit) else load_kit(kit)
    return grade_with(path, loaded.rubric, KitOracle(loaded), settings)


__all__ = [
    "FORMAT",
    "MANIFEST",
    "Kit",
    "KitError",
    "KitOracle",
    "grade_with_kit",
    "is_kit",
    "load_kit",
]
