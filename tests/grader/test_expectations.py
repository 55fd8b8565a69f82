"""grader.expectations: the variants computed beside the expected values, in particular the
replay's conventions followed together and the biases' momentum."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader import expectations
from grader.adapters.binding import AdapterBinding
from grader.diagnose import CONVENTIONS
from grader.plan import make_plan
from grader.probes import ProbeContext
from grader.rubric_file import load_rubric

ROOT = Path(__file__).resolve().parents[2]
COURSE = load_rubric(ROOT / "rubrics" / "mlp_backprop_course.toml")


def _context(call: str) -> ProbeContext:
    plan = make_plan(COURSE, AdapterBinding.from_table(COURSE.adapter))
    return next(plan.contexts[p.call.id] for p in plan.job.probes if p.call.call == call)


def test_the_plan_tells_each_probe_what_its_checks_credit() -> None:
    replay = COURSE.check("replay")
    assert _context("train").credited == tuple(replay.compare.accept)


def test_bias_momentum_moves_only_the_biases_on_the_momentum_probe() -> None:
    """The course declares plain steps for the biases: the bias_momentum candidate follows the
    same weights and other biases, and is credited by the rubric's momentum check."""
    ctx = _context("optimizer")
    want = expectations.expected_outputs(ctx)
    cand = next(c for c in expectations.candidates(ctx) if c.name == "bias_momentum")
    for name, value in want.items():
        same = np.array_equal(cand.arrays[name], value)
        assert same == name.startswith("W"), name
    assert "bias_momentum" in COURSE.check("momentum").compare.accept


def test_combinations_pair_a_credited_convention_and_triple_only_credited_ones() -> None:
    singles = [CONVENTIONS[n] for n in ("mean_instances", "l2", "heavy_ball", "inverse_time")]
    singles.append(CONVENTIONS["bias_momentum"])
    combos = expectations._combinations(singles, {"inverse_time", "bias_momentum", "l2"})
    names = ["+".join(c.name for c in combo) for combo in combos]
    assert "mean_instances+l2" not in names  # two penalties: one setting, never together
    assert "mean_instances+heavy_ball" not in names  # neither credited
    assert "heavy_ball+inverse_time" in names  # one credited: named if it explains a run
    assert "l2+inverse_time+bias_momentum" in names  # three credited
    assert "heavy_ball+inverse_time+bias_momentum" not in names  # a triple: credited only
    assert all(len(c) <= expectations.MAX_COMBINED for c in combos)
    sizes = [len(c) for c in combos]
    assert sizes == sorted(sizes)  # fewest first


def test_the_replay_under_two_credited_conventions_is_a_candidate() -> None:
    """The replay's candidates include inverse-time cooling with momentum on the biases, the
    2022 08a's training, which differs from each convention alone."""
    ctx = _context("train")
    cands = {c.name: c for c in expectations.candidates(ctx)}
    both = cands["bias_momentum+inverse_time"].arrays
    for alone in ("bias_momentum", "inverse_time"):
        assert not np.array_equal(both["W1"], cands[alone].arrays["W1"]), alone


def test_the_textbooks_shuffle_and_epoch_end_cost_are_replayed_and_combined() -> None:
    """fresh_shuffle changes the trajectory (another order of the same draws); epoch_end_cost
    changes only cost_, to the printed cost of the whole set after each epoch (read off the
    same run: its weights equal the declared run's); both combine with inverse_time."""
    from grader.probes import recorded_cost, replay

    ctx = _context("train")
    assert {"fresh_shuffle", "epoch_end_cost"} <= set(ctx.credited)
    want = expectations.expected_outputs(ctx)
    cands = {c.name: c for c in expectations.candidates(ctx)}
    fresh, end = cands["fresh_shuffle"].arrays, cands["epoch_end_cost"].arrays
    assert not np.array_equal(fresh["W1"], want["W1"])
    for name in ("W1", "W2", "b1", "b2", "accuracy"):
        np.testing.assert_array_equal(end[name], want[name])
    assert not np.allclose(end["cost"], want["cost"])
    _, trace = replay(ctx)
    from dataclasses import replace

    np.testing.assert_array_equal(
        end["cost"], recorded_cost(replace(ctx, cost_at="epoch_end"), trace)
    )
    assert "inverse_time+fresh_shuffle+epoch_end_cost" in cands
    # the targets left unshuffled beside a fresh shuffle is a candidate too, named as the bug
    titles = [c.title for c in expectations.candidates(ctx) if c.name == "xy_shuffled_separately"]
    assert any("fresh permutation" in t for t in titles) and len(titles) > 1
