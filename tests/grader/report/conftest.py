"""Grade results built by hand: every status, a diagnosis, a convention, a hidden check,
an ungradable submission, figures, and a hostile student who prints markup."""

from __future__ import annotations

import pytest

from grader.compare import Comparison, Measures
from grader.diagnose import Diagnosis
from grader.figures import convergence, gradient_error, gradient_magnitude
from grader.results import CheckResult, GradeResult, SubmissionRef
from grader.rubric import Rubric
from grader.rubric_file import parse_rubric
from grader.scoring import score

RUBRIC = b"""
[assignment]
id = "mlp"
title = "Back-propagation"
execution = "definitions"

[[objectives]]
id = "encoding"
title = "Encode the targets one-hot"
demonstrates = "Your Y is (K, N) with classes sorted."

[[objectives]]
id = "backprop"
title = "Back-propagate through a two-layer perceptron"
demonstrates = "Your gradients equal the exact gradient."

[[objectives]]
id = "regularisation"
title = "Regularise the weights"
demonstrates = "The L2 penalty's gradient, biases not penalised."

[[objectives]]
id = "optimisation"
title = "Step with momentum"
demonstrates = "Your update rule moves the weights as the course's momentum does."

[[objectives]]
id = "training"
title = "Train with mini-batches"
demonstrates = "Your training loop replays the reference's run."

[[checks]]
id = "one_hot"
title = "One-hot targets"
objective = "encoding"
probe = "one_hot"
points = 1

[[checks]]
id = "grad_out"
title = "Output layer's gradient"
objective = "backprop"
probe = "gradients"
points = 2

[[checks]]
id = "grad_hidden"
title = "Hidden layer's gradient"
objective = "backprop"
probe = "gradients"
points = 3

[[checks]]
id = "grad_penalty"
title = "Penalty gradient, large C"
objective = "regularisation"
probe = "gradients"
points = 1.5
visibility = "hidden"

[[checks]]
id = "momentum"
title = "Momentum update"
objective = "optimisation"
probe = "optimizer"
points = 1

[[checks]]
id = "train"
title = "Training replay"
objective = "training"
probe = "train"
points = 2
"""

HOSTILE = (
    "<script>alert(1)</script></details><img src=x onerror=alert(2)>"
    " {{ 7*7 }} [x](javascript:alert(1)) ![i](https://evil.example/p.png) **bold** `tick`"
)
SECRET_INPUT = "SECRET-INPUT-0.73519"
SECRET_EXPECTED = "SECRET-EXPECTED-4.2424"


def measures(rel: float, cos: float | None = 1.0, outside: int = 0) -> Measures:
    return Measures(rel, rel / 2, rel * 3, cos, 1.0, outside, 20)


def rubric() -> Rubric:
    return parse_rubric(RUBRIC, "tests/report.toml")


def check_results(hostile: bool = False) -> tuple[CheckResult, ...]:
    diag = Diagnosis(
        name="missing_hidden_derivative",
        kind="misconception",
        title="hidden layer's derivative missing",
        description="V1 = W2^T V2 without the factor A2 (1 - A2).",
        topic="back-propagation",
        next_step="Multiply by A2 (1 - A2) in the hidden layer's recurrence.",
        parts=("dW1", "db1"),
        max_difference=3.2e-12,
        alternatives=(),
        message="your grad1 and b1 equal what the reference computes with a known bug: hidden layer's derivative missing (max difference 3e-12)",
    )
    hostile_text = f"your code raised ValueError: {HOSTILE}" if hostile else ""
    return (
        CheckResult(
            "one_hot",
            "encoding",
            "passed",
            1.0,
            1.0,
            title="One-hot targets",
            evidence=("'Y' matches the expected values (max relative error 0.0e+00)",),
            comparisons=(
                Comparison(
                    "Y",
                    "values",
                    True,
                    "'Y' matches the expected values",
                    measures(0.0),
                    "Y",
                    (3, 7),
                    (3, 7),
                ),
            ),
            feedback="Your targets are one-hot.",
        ),
        CheckResult(
            "grad_out",
            "backprop",
            "passed",
            2.0,
            2.0,
            title="Output layer's gradient",
            evidence=(
                "your grad2 follows an accepted convention, data term averaged over the N instances (max relative error 2.1e-16 under it)",
            ),
            comparisons=(
                Comparison(
                    "dW2",
                    "values",
                    True,
                    "'grad2' matches the expected values (max relative error 2.1e-16)",
                    measures(2.1e-16),
                    "grad2",
                    (3, 5),
                    (3, 5),
                ),
            ),
            convention="mean_instances",
        ),
        CheckResult(
            "grad_hidden",
            "backprop",
            "failed",
            0.0,
            3.0,
            title="Hidden layer's gradient",
            evidence=(
                "'grad1' differs from the expected values: 20 of 20 entries outside |got - expected| <= 1e-08 + 1e-06·|expected| (max relative error 0.71, max abs difference 0.3)",
                diag.message,
            )
            + (
                (
                    hostile_text,
                    'traceback (last lines):\n  File "mlp.py", line 3\n    raise ValueError("'
                    + HOSTILE
                    + '")\nValueError: '
                    + HOSTILE,
                )
                if hostile
                else ()
            ),
            comparisons=(
                Comparison(
                    "dW1",
                    "values",
                    False,
                    "'grad1' differs from the expected values",
                    measures(0.71, 0.95, 20),
                    "grad1",
                    (4, 6),
                    (4, 6),
                ),
            ),
            diagnosis=diag,
            feedback="Your hidden layer's gradient is not yet right.",
            next_step=diag.next_step,
        ),
        CheckResult(
            "grad_penalty",
            "regularisation",
            "failed",
            0.0,
            1.5,
            visibility="hidden",
            title="Penalty gradient, large C",
            evidence=(f"on X = {SECRET_INPUT} your dW1 differs from {SECRET_EXPECTED}",),
            comparisons=(
                Comparison(
                    "dW1",
                    "values",
                    False,
                    f"expected {SECRET_EXPECTED}",
                    measures(0.02, 0.999, 3),
                    "grad1",
                    (4, 6),
                    (4, 6),
                ),
            ),
            next_step="Check the penalty term of your gradient with a large C.",
        ),
        CheckResult(
            "momentum",
            "optimisation",
            "not_assessed",
            0.0,
            1.0,
            title="Momentum update",
            evidence=("your class has no _momentum_update method",),
            reason="your class has no _momentum_update method",
        ),
        CheckResult(
            "train",
            "training",
            "error",
            0.0,
            2.0,
            title="Training replay",
            evidence=("the grader has no expected value for 'cost': a grader problem, not yours",),
            reason="the grader has no expected value for 'cost': a grader problem, not yours",
        ),
    )


def figures() -> tuple:
    cost = [2.0 / (k + 1) + 0.1 for k in range(20)]
    return (
        convergence([c * 1.02 for c in cost], reference=cost, check_id="train", id="conv"),
        gradient_error(
            {"dW1": 0.71, "db1": 0.5, "dW2": 2.1e-16, "db2": 0.0},
            1e-6,
            check_id="grad_hidden",
            id="err",
        ),
        gradient_error({"dW1": 0.02, "dW2": 1e-12}, check_id="grad_penalty", id="secret-err"),
        gradient_magnitude(
            {
                "layer 1": [1e-3 * 0.9**k for k in range(20)],
                "layer 2": [1e-1 * 0.97**k for k in range(20)],
            },
            id="mag",
        ),
    )


def make_result(
    identity: str = "alice",
    hostile: bool = False,
    with_figures: bool = True,
    checks: tuple[CheckResult, ...] | None = None,
) -> GradeResult:
    checks = check_results(hostile) if checks is None else checks
    has_field = "figures" in GradeResult.__dataclass_fields__
    extra = {"figures": figures()} if with_figures and has_field else {}
    made = GradeResult(
        submission=SubmissionRef(identity, f"submissions/{identity}.ipynb", "ab" * 32),
        status="graded",
        checks=checks,
        score=score(rubric(), checks),
        provenance={
            "grader": "0.1.0",
            "rubric_hash": "cd" * 32,
            "sandbox_tier": "bwrap",
            "seeds": {"grad_penalty": 987654},
        },
        notes=("definitions mode: skipped the cell that calls fit() (cell 7)",)
        + ((HOSTILE,) if hostile else ()),
        stdout=("epoch 1 cost 0.9\n" + HOSTILE) if hostile else "epoch 1 cost 0.9\n",
        stderr=HOSTILE if hostile else "",
        **extra,
    )
    if with_figures and not has_field:  # until results.py carries figures: attach them by hand
        object.__setattr__(made, "figures", figures())
    return made


def make_ungradable(
    identity: str = "bob", reason: str = "the notebook is not valid JSON: line 3, column 1"
) -> GradeResult:
    return GradeResult(
        SubmissionRef(identity), "ungradable", reason=reason, provenance={"grader_version": "0.1.0"}
    )


@pytest.fixture
def result() -> GradeResult:
    return make_result()


@pytest.fixture
def hostile() -> GradeResult:
    return make_result("mallory<script>", hostile=True)


@pytest.fixture
def ungradable() -> GradeResult:
    return make_ungradable()
