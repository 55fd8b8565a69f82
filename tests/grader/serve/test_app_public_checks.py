"""What a CI job fails on (``public_checks_passed`` in a done job's status): every public
check passed, by the student kit's own exit rule; a hidden check never decides it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.results import GradeResult
from tests.grader.report.conftest import make_result
from tests.grader.serve.conftest import need_web_stack

need_web_stack()
from grader.serve.app import public_checks_of  # noqa: E402


def with_statuses(result: GradeResult, statuses: dict[str, str]) -> GradeResult:
    checks = tuple(
        replace(c, status=statuses.get(c.visibility, c.status))  # type: ignore[arg-type]
        for c in result.checks
    )
    return replace(result, checks=checks)


@pytest.fixture
def base() -> GradeResult:
    result = make_result()
    kinds = {c.visibility for c in result.checks}
    assert kinds == {"public", "hidden"}, kinds  # the fixture has both
    return result


def test_all_public_passed_even_with_a_hidden_failure(base: GradeResult) -> None:
    verdict = public_checks_of(with_statuses(base, {"public": "passed", "hidden": "failed"}))
    assert verdict == {"public_checks_passed": True, "public_checks_not_passed": []}


@pytest.mark.parametrize("status", ["failed", "not_assessed", "error"])
def test_a_public_check_not_passed_fails_and_is_named(base: GradeResult, status: str) -> None:
    result = with_statuses(base, {"public": "passed", "hidden": "passed"})
    first = next(c for c in result.checks if c.visibility == "public")
    checks = tuple(replace(c, status=status) if c is first else c for c in result.checks)
    verdict = public_checks_of(replace(result, checks=checks))  # type: ignore[arg-type]
    assert verdict == {"public_checks_passed": False, "public_checks_not_passed": [first.check_id]}


def test_an_ungradable_submission_does_not_pass(base: GradeResult) -> None:
    result = with_statuses(base, {"public": "passed", "hidden": "passed"})
    assert (
        public_checks_of(replace(result, status="ungradable", reason="not a notebook"))[
            "public_checks_passed"
        ]
        is False
    )
