"""A course-style class whose methods read the parameters from the instance (``params_in =
"attributes"``): discovered from its api report, then asked through the course_separate
adapter with the parameters set into its lists (W1 -> weights[0], ...), on our own sample of
that shape (submissions/realshapes/course_any_depth_lists.py) against the reference."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.adapters import child_probes, discover, support
from grader.adapters.binding import AdapterBinding, BindingError, binding_for
from grader.sandbox.child import runner
from tests.grader.adapters.conftest import assert_close, problem, run_probe

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "submissions" / "realshapes" / "course_any_depth_lists.py"
CLASS = "MultiLayerPerceptron"


@pytest.fixture(scope="module")
def lists_ns() -> dict[str, Any]:
    return dict(runpy.run_path(str(SAMPLE)))


def report(ns: dict[str, Any], *names: str) -> dict[str, discover.ClassApi]:
    return discover.read_api({"api": runner.api(ns, list(names))})


@pytest.fixture(scope="module")
def bound(lists_ns: dict[str, Any]) -> AdapterBinding:
    proposals = discover.propose({"style": "course_separate"}, report(lists_ns, CLASS))
    assert len(proposals) == 1
    return proposals[0].binding


class Named:
    """forward(X) over self.W1 .. self.b2: the course's names, read from the instance."""

    def __init__(self, C=0.0):
        self.W1 = self.W2 = self.b1 = self.b2 = None

    def _feedforward(self, X):
        return self.W2 @ (self.W1 @ X.T + self.b1) + self.b2


class Passed:
    """The course's own shape: the parameters are arguments."""

    def _feedforward(self, X, W1, W2, b1, b2):
        self.weights, self.biases = [W1, W2], [b1, b2]
        return X, X, X, X, X


class Nowhere:
    """forward(X) and no place the parameters could be read from."""

    def _feedforward(self, X):
        return X


def test_discovery_sets_the_parameters_into_the_lists_the_class_keeps(bound):
    assert bound.class_name == CLASS
    assert bound.params_in == "attributes"
    assert [bound.attributes[k] for k in ("W1", "W2", "b1", "b2")] == [
        "weights[0]",
        "weights[1]",
        "biases[0]",
        "biases[1]",
    ]
    assert bound.method("forward") == "_feedforward" and bound.method("optimizer") == ""
    assert AdapterBinding.from_table(bound.to_json()) == bound
    found = discover.describe(discover.Proposal(bound, (), ()), "confirmed.", [])
    assert "W1 = weights[0]" in found.sentence() and found.as_json()["params_in"]


def test_discovery_keeps_the_course_names_or_proposes_nothing_new():
    named = report({"Named": Named}, "Named")["Named"]
    assert discover.instance_shape(named, "_feedforward") == {"params_in": "attributes"}
    passed = report({"Passed": Passed}, "Passed")["Passed"]
    assert discover.instance_shape(passed, "_feedforward") is None  # takes the weights
    assert (
        discover.propose({"style": "course_separate"}, {"Passed": passed})[0].binding.params_in
        == "arguments"
    )
    nowhere = report({"Nowhere": Nowhere}, "Nowhere")["Nowhere"]
    assert discover.instance_shape(nowhere, "_feedforward") is None
    # a rubric that pins a layout key decides it: no instance shape is proposed
    pinned = discover.propose(
        {"style": "course_separate", "params_in": "arguments"}, {"Named": named}
    )
    assert pinned[0].binding.params_in == "arguments"


def test_a_list_item_is_a_binding_detail_of_params_in_attributes_only():
    with pytest.raises(BindingError, match='only with params_in = "attributes"'):
        binding_for("course_separate", attributes={"W1": "weights[0]"})
    with pytest.raises(BindingError, match="not allowed for style 'textbook_rows'"):
        binding_for("textbook_rows", params_in="attributes")
    with pytest.raises(BindingError, match="a list's item"):
        binding_for("course_separate", params_in="attributes", attributes={"W1": "weights[x]"})
    with pytest.raises(BindingError):
        binding_for("course_separate", params_in="attributes", attributes={"cost": "costs[0]"})
    assert "params_in" not in binding_for("course_separate").to_json()  # the old JSON, unchanged


@pytest.mark.parametrize("C", [0.0, 25.0])
def test_forward_gradients_and_cost_through_the_lists(lists_ns, bound, C):
    c = problem()
    assert_close(*run_probe("forward", bound, lists_ns, {}, c))
    assert_close(*run_probe("gradients", bound, lists_ns, {"C": C}, c))
    assert_close(*run_probe("cost", bound, lists_ns, {"C": C}, c))
    assert_close(*run_probe("predict", bound, lists_ns, {}, c))


def test_the_replay_sets_the_start_into_the_lists_an_initialiser_returning_none_fills(
    lists_ns, bound
):
    c = problem(N=12, seed=6)
    perms = np.array([np.random.default_rng(k).permutation(12) for k in range(4)])
    hyper = {
        "eta": 0.05,
        "alpha": 0.5,
        "C": 0.1,
        "decrease_const": 0.5,
        "decrease_iter": 2,
        "minibatches": 3,
        "random_state": 1,
        "epochs": 4,
    }
    assert_close(*run_probe("train", bound, lists_ns, hyper, c | {"perms": perms}))


def test_a_planted_sign_flip_in_the_hidden_layer_shows_on_that_layer_only(lists_ns, bound):
    flipped = runpy.run_path(str(SAMPLE.with_name("course_any_depth_lists_sign_flip.py")))
    got, want = run_probe("gradients", bound, flipped, {"C": 0.0}, problem())
    np.testing.assert_allclose(got["dW1"], -want["dW1"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got["dW2"], want["dW2"], rtol=1e-10, atol=1e-12)


class _Claims(list):
    def __getitem__(self, i):
        raise AssertionError("a list subclass is never indexed")


class Keeps:
    """A property that keeps something else than what was set."""

    @property
    def weights(self):
        return _Claims([1, 2])

    @weights.setter
    def weights(self, value):
        pass


def test_an_instance_that_does_not_hold_what_was_set_cannot_be_asked():
    W = np.ones((2, 2))
    with pytest.raises(child_probes.ParametersNotHeld, match="does not hold"):
        child_probes._set_paths(Keeps(), {"weights[0]": W, "weights[1]": W.copy()})
    plain = Named()
    child_probes._set_paths(plain, {"W1": W})
    assert plain.W1 is W
    with pytest.raises(TypeError, match="expected a list holding weights\\[1\\]"):
        child_probes._read_path(type("T", (), {"weights": [W]})(), "weights[1]")


def test_lists_of_gradients_are_unpacked_and_other_returns_left_as_they_are():
    a, b = np.zeros(1), np.ones(1)
    assert child_probes._flattened(([a, a], (b, b))) == [a, a, b, b]
    four = (a, a, b, b)
    assert child_probes._flattened(four) is four


def test_only_the_attributes_binding_turns_a_refusal_into_not_assessed(bound):
    assert "did not hold them" in support.params_refused(bound, "ParametersNotHeld")
    assert support.params_refused(bound, "ProbeUnsupported") == ""  # another refusal: its own
    assert support.params_refused(binding_for("course_separate"), "ParametersNotHeld") == ""
