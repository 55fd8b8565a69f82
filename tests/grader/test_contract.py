"""grader.contract: the one declaration of every probe, and everything checked against it.

A new probe is one entry in ``PROBE_SPECS``, one reference function (``grader.probes``),
one child function (``grader/adapters/child_probes.py``) and, where needed, one judge
(``grader.checks``). These tests check the functions against the table, run each call
end to end on a correct sample (its canonical outputs have the declared names and
shapes), and fail when a module declares the calls, their parameters or their outputs
again instead of deriving them.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from grader import checks, contract, probes, rubric, rubric_file
from grader.adapters import child_probes, styles
from grader.adapters.binding import binding_for
from grader.contract import CALLS, HYPER_DEFAULTS, MISCONCEPTION_KINDS, PROBE_SPECS, ProbeSpec
from grader.plan import canonical_inputs
from grader.probes import SELF_CHECK_DIRECTIONS, output_specs, student_inputs, to_canonical
from grader.rubric import CheckSpec, CompareSpec, Feedback
from tests.grader.adapters.conftest import definitions, load_sample

ROOT = Path(__file__).resolve().parents[2]
GRADER = ROOT / "grader"


def test_the_contract_imports_only_the_standard_library():
    """The student kit ships it, and the rubric and the layouts read it without reference."""
    tree = ast.parse((GRADER / "contract.py").read_text(encoding="utf-8"))
    roots = {
        (n.module or "").split(".")[0] if isinstance(n, ast.ImportFrom) else a.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in (n.names if isinstance(n, ast.Import) else n.names[:1])
    }
    assert roots - {"__future__"} <= set(sys.stdlib_module_names)


def test_every_call_has_one_child_function_of_the_probe_signature():
    """The child's module-level functions taking (ns, inputs, params) are exactly the calls."""
    found = {
        name
        for name, fn in inspect.getmembers(child_probes, inspect.isfunction)
        if fn.__module__ == child_probes.__name__
        and list(inspect.signature(fn).parameters) == ["ns", "inputs", "params"]
    }
    assert found == set(CALLS)


def test_every_call_has_one_reference_function_and_a_judge():
    assert tuple(probes.REFERENCE) == CALLS
    assert tuple(checks.JUDGES) == CALLS
    used = {p.judge for p in PROBE_SPECS.values()}
    assert used == set(checks.JUDGE_FUNCTIONS), "a judge no probe names, or a name with no judge"
    for call, spec in PROBE_SPECS.items():
        assert checks.JUDGES[call] is checks.JUDGE_FUNCTIONS[spec.judge]


def test_every_parameter_has_a_default_or_a_check():
    """Hyper-parameters have defaults; every name a check may set is validated by the rubric."""
    validators = rubric_file.param_checks()
    for spec in PROBE_SPECS.values():
        assert set(spec.hyper) <= set(HYPER_DEFAULTS), spec.call
        assert set(spec.kinds) <= set(MISCONCEPTION_KINDS), spec.call
        assert set(contract.probe_params(spec.call)) <= set(validators), spec.call
        assert rubric_file.allowed_params(spec.call)[: len(contract.PROBLEM_KEYS)] == (
            contract.PROBLEM_KEYS
        )
    assert set(HYPER_DEFAULTS) == {h for p in PROBE_SPECS.values() for h in p.hyper}
    from grader.adapters.conventions import CONVENTION_KEYS

    declared = {k for p in PROBE_SPECS.values() for k in contract.probe_params(p.call)}
    assert set(validators) == declared | set(CONVENTION_KEYS), "a check for a name no probe takes"


# Which correct sample answers each call: the template has no training of its own to
# converge, and its lab level (submissions/lab) draws the initial weights.
_SAMPLE = {call: "template" for call in CALLS} | {"converge": "course_separate"}


def _namespace(call: str) -> dict[str, Any]:
    if call != "initialize":
        return load_sample(f"{_SAMPLE[call]}_ok")
    source = (ROOT / "submissions" / "lab" / "template_lab_ok.py").read_text(encoding="utf-8")
    ns: dict[str, Any] = {"__name__": "student"}
    exec(compile(definitions(source), "template_lab_ok.py", "exec"), ns)
    return ns


_SMALL = {  # small problems: the test is about names and shapes
    "train": {"epochs": 2, "N": 20},
    "schedule": {"epochs": 4},
    "converge": {"epochs": 2, "N": 30, "N_heldout": 8, "seeds": 1},
}


def _spec(call: str) -> CheckSpec:
    params = {"sizes": (5, 4, 3), "seed": 3} | _SMALL.get(call, {})
    return CheckSpec(
        id=call,
        title=call,
        objective="o",
        probe=call,
        params=MappingProxyType(params),
        compare=CompareSpec(),
        points=1.0,
        visibility="public",
        requires=(),
        feedback=Feedback(),
    )


@pytest.mark.parametrize("call", CALLS)
def test_each_call_answers_with_the_declared_outputs(call: str):
    """The plan's inputs cover the declared ones; a correct sample's answer, made canonical,
    has exactly the declared outputs (but those the parent adds) in the declared shapes."""
    spec: ProbeSpec = PROBE_SPECS[call]
    check = _spec(call)
    canonical = canonical_inputs(check)
    needed = {"params": "W1", "grads": "dW1"}
    assert all(needed.get(i, i) in canonical for i in spec.inputs), "the plan lacks an input"
    binding = binding_for(_SAMPLE[call])
    inputs, ctx = student_inputs(call, binding, check.params, canonical)
    params = json.loads(json.dumps(ctx.child_params()))
    raw = getattr(child_probes, call)(_namespace(call), inputs, params)
    assert {k: v.shape for k, v in raw.items()} == output_specs(call, binding, ctx.sizes)
    answer = to_canonical(call, binding, raw)
    for name, array in answer.items():
        matches = [o for o in spec.outputs if re.fullmatch(o.name, name)]
        assert len(matches) == 1, f"{call}: output {name!r} is not declared once"
        assert not matches[0].by_parent
        sizes = ctx.sizes
        symbols = {"K": sizes.K, "N": sizes.N, "E": sizes.E, "T": sizes.T, "M": sizes.M}
        symbols["S"] = SELF_CHECK_DIRECTIONS
        param = canonical[name.removeprefix("d")].shape if "param" in matches[0].shape else ()
        assert array.shape == contract.canonical_shape(matches[0], symbols, param), name
    for o in spec.outputs:
        found = any(re.fullmatch(o.name, n) for n in answer)
        assert found != o.by_parent, f"{call}: declared output {o.name!r}"


# ---------------------------------------------------------------------------
# Declared once: nothing else in the package lists the calls, their parameters or outputs

_DERIVED_NAMES = ("CALLS", "PROBES", "PLAN_KEYS", "HYPER_DEFAULTS", "MISCONCEPTION_KINDS")


def _modules() -> list[Path]:
    return sorted(p for p in GRADER.rglob("*.py") if p.name != "contract.py")


def _strings(node: ast.AST) -> list[str]:
    items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", [])
    return [e.value for e in items if isinstance(e, ast.Constant) and isinstance(e.value, str)]


def _declarations(path: Path) -> list[str]:
    """What in ``path`` declares the contract again: a literal listing five calls (or three
    keyed to functions), a class named Probe, a module-level literal of a contract's name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in ("Probe", "ProbeSpec"):
            found.append(f"class {node.name}")
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            calls = [s for s in _strings(node) if s in CALLS]
            if len(calls) >= 5:
                found.append(f"line {node.lineno}: a list of calls {calls}")
        if isinstance(node, ast.Dict):
            calls = [s for s in _strings(node) if s in CALLS]
            # names (a string, or a tuple of strings: grader.adapters.discover's families of
            # the student's method names) are data; a table of calls to code is a declaration
            to_code = not all(
                isinstance(v, ast.Constant)
                or (isinstance(v, ast.Tuple) and all(isinstance(e, ast.Constant) for e in v.elts))
                for v in node.values
            )
            if len(calls) >= 3 and to_code:
                found.append(f"line {node.lineno}: a table keyed by calls {calls}")
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for t in targets:
            if isinstance(t, ast.Name) and t.id in _DERIVED_NAMES:
                found.append(f"line {node.lineno}: {t.id} assigned")
    return found


def test_no_module_but_the_contract_declares_a_probe():
    found = {str(p.relative_to(ROOT)): d for p in _modules() if (d := _declarations(p))}
    assert found == {}


def test_the_declaration_check_sees_a_second_declaration(tmp_path: Path):
    """The check above is not blind: the shapes of the old duplicates are caught."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "CALLS = ('forward', 'gradients', 'cost', 'optimizer', 'schedule')\n"
        "class Probe: ...\n"
        "JUDGES = {'timing': f, 'converge': g, 'initialize': h}\n",
        encoding="utf-8",
    )
    assert len(_declarations(sample)) == 4


def test_the_parent_modules_use_the_contracts_objects():
    """Derived, not copied: the rubric, the layouts and the probes read the same objects."""
    assert rubric.PROBE_SPECS is PROBE_SPECS and rubric.CALLS is CALLS
    assert styles.PROBE_SPECS is PROBE_SPECS and styles.CALLS is CALLS
    assert probes.PROBE_SPECS is PROBE_SPECS and probes.HYPER_DEFAULTS is HYPER_DEFAULTS
    from grader import plan

    assert plan.PROBE_SPECS is PROBE_SPECS and plan.RUN_ORDER is contract.RUN_ORDER
    assert sorted(contract.RUN_ORDER) == sorted(CALLS)


def test_the_architecture_table_and_the_conventions_name_the_contracts_calls():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text[text.index("## The probe contract") :]
    section = section[: section.index("\n## ", 1)]
    rows = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert rows == list(CALLS)
    from grader.diagnose import CONVENTIONS

    for name, convention in CONVENTIONS.items():
        assert set(convention.probes) <= set(CALLS), name


def test_an_unknown_call_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown probe call 'fit'; known: forward, gradients"):
        contract.probe_spec("fit")
