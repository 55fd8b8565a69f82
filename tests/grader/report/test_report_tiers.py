"""Every output names the sandbox tier and what it guarantees (grader.sandbox.tiers.TIER_INFO);
an advisory run says so where the instructor looks: the class page and the Markdown summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from grader.exports.class_markdown import class_summary
from grader.exports.gradebook import Row
from grader.exports.gradescope import gradescope_results
from grader.exports.junit import junit_xml
from grader.report import render_class_summary, summarise
from grader.results import GradeResult
from grader.sandbox.tiers import TIER_INFO, TIERS, SandboxUnavailableError, resolve_tier

from .conftest import make_result


def in_tier(identity: str, tier: str) -> GradeResult:
    made = make_result(identity)
    return replace(made, provenance={**made.provenance, "sandbox_tier": tier})


def test_the_class_counts_students_per_tier():
    """Two in uid, one in plain: most first."""
    s = summarise([in_tier("a", "uid"), in_tier("b", "plain"), in_tier("c", "uid")])
    assert s.tiers == (("uid", 2), ("plain", 1))


@pytest.mark.parametrize("tier", TIERS)
def test_the_class_page_and_summary_say_the_tier_and_an_advisory_run_loudly(tier):
    results = [in_tier("a", tier), in_tier("b", tier)]
    info = TIER_INFO[tier]  # type: ignore[index]
    page = render_class_summary(results)
    markdown = class_summary([Row.of(r) for r in results])
    assert ("Advisory run" in page) == info.advisory == ("Advisory run" in markdown)
    assert info.gaps.split(":")[0] in page and info.gaps.split(":")[0] in markdown
    if not info.advisory:
        assert info.guarantees.split(":")[0] in page and f"`{tier}` tier" in markdown


def test_gradescope_extra_data_and_junit_properties_carry_the_tier():
    result = in_tier("a", "uid")
    extra = gradescope_results(result)["extra_data"]
    assert extra["sandbox_tier"] == "uid" and extra["sandbox_advisory"] is False
    assert extra["sandbox_guarantees"] == TIER_INFO["uid"].guarantees
    json.dumps(extra)  # Gradescope's file is JSON
    props = {
        p.get("name"): p.get("value")
        for p in ET.fromstring(junit_xml([in_tier("b", "plain")])).iter("property")
    }
    assert (props["sandbox_tier"], props["sandbox_advisory"]) == ("plain", "true")


def test_a_minimum_tier_above_what_runs_is_one_clear_sentence(monkeypatch):
    """--min-tier bwrap where only uid works: refused, naming both tiers and the reason."""
    import grader.sandbox.tiers as tiers

    monkeypatch.setattr(tiers, "bwrap_status", lambda: (False, "bwrap failed here: no userns"))
    monkeypatch.setattr(tiers, "uid_status", lambda: (True, "dedicated uids"))
    monkeypatch.setattr(tiers, "as_root", lambda: True)
    assert resolve_tier(None, "uid") == "uid"
    with pytest.raises(SandboxUnavailableError) as caught:
        resolve_tier(None, "bwrap")
    message = str(caught.value)
    assert "below the required bwrap tier" in message and "no userns" in message
    assert "\n" not in message
    with pytest.raises(SandboxUnavailableError, match="unknown minimum sandbox tier"):
        resolve_tier(None, "docker")


def test_as_root_plain_is_never_chosen(monkeypatch):
    """Root without bwrap and without a usable uid: no tier, never the grader's own root."""
    import grader.sandbox.tiers as tiers

    monkeypatch.setattr(tiers, "bwrap_status", lambda: (False, "no bwrap"))
    monkeypatch.setattr(tiers, "uid_status", lambda: (False, "no setpriv"))
    monkeypatch.setattr(tiers, "as_root", lambda: True)
    with pytest.raises(SandboxUnavailableError, match="never runs as root"):
        resolve_tier()
    with pytest.raises(SandboxUnavailableError, match="no setpriv"):
        resolve_tier("plain")


def test_an_old_bubblewrap_without_disable_userns_is_detected(monkeypatch):
    """bwrap 0.6 (Ubuntu 22.04) lacks --disable-userns: the command leaves it out."""
    import grader.sandbox.tiers as tiers

    monkeypatch.setattr(tiers, "bwrap_features", lambda: ("0.6.1", frozenset({"--unshare-user"})))
    assert "--disable-userns" not in tiers.bwrap_command([], [], "/tmp")
    monkeypatch.setattr(tiers, "bwrap_features", lambda: ("0.8.0", frozenset({"--disable-userns"})))
    assert "--disable-userns" in tiers.bwrap_command([], [], "/tmp")


def test_an_advisory_batch_says_so_once_loudly_and_min_tier_refuses_it(
    tmp_path, monkeypatch, capsys
):
    """grader grade in the plain tier: one banner on stderr, the tier on stdout; with
    --min-tier uid nothing is graded and the error is one sentence (exit 2)."""
    import grader.cli as cli
    import grader.sandbox.tiers as tiers
    from tests.grader import fakes

    monkeypatch.setattr(tiers, "bwrap_status", lambda: (False, "bwrap failed here: no userns"))
    monkeypatch.setattr(tiers, "uid_status", lambda: (False, "needs root"))
    monkeypatch.setattr(tiers, "as_root", lambda: False)
    subs = tmp_path / "subs"
    subs.mkdir()
    fakes.write(subs, "alice.py")
    argv = ["grade", str(subs), "--rubric", str(fakes.RUBRIC_PATH), "--no-progress"]
    code = cli.main([*argv, "--out", str(tmp_path / "out")], grade_fn=fakes.grade_submission)
    printed = capsys.readouterr()
    assert code == 0
    assert printed.err.count("ADVISORY RUN") == 1 and "no userns" in printed.err
    assert "sandbox tier plain" in printed.out
    out2 = tmp_path / "out2"
    code = cli.main(
        [*argv, "--out", str(out2), "--min-tier", "uid"], grade_fn=fakes.grade_submission
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "below the required uid tier" in err[0]
    assert not out2.exists()
