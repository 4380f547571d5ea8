"""Rebuilds for a fix: which findings ask, what the build starter's outcome means, what people read."""

import pytest
from pydantic import ValidationError

from pipeline.domain.fixes import RebuildReason, RebuildRecord, has_fix, rebuild_decision, rebuild_line
from pipeline.domain.requests import BuildRequest

RUNNING = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
HEAD = "1279bbb2c1ca1e45aabe8b9a37c06e64359d28f5"


@pytest.mark.parametrize(("fix_available", "versions", "expected"), [
    ("YES", ["3.0.15-1~deb12u2"], True),
    ("PARTIAL", ["NotAvailable", "1.2.3"], True),  # some packages have a fixed version
    ("PARTIAL", ["NotAvailable"], False),  # none names one: nothing a rebuild could pick up
    ("NO", ["1.2.3"], False),
    ("YES", [], False),
    ("", ["1.2.3"], False),  # an event that does not say
    ("yes", ["1.2.3"], True),
])
def test_a_fix_is_available_when_inspector_says_so_and_a_package_names_its_fixed_version(
        fix_available, versions, expected):
    assert has_fix(fix_available, versions) is expected


@pytest.mark.parametrize(("state", "image", "decision"), [
    ("started", "", "rebuild started"),
    ("already started", "", "rebuild under way"),
    ("in flight", "", "rebuild under way"),
    ("reused", OTHER, "reused"),
    ("already built", RUNNING, "inputs unchanged"),
    ("already built", OTHER, "built already"),
    ("inputs unknown", "", "inputs unknown"),
])
def test_the_starters_outcome_is_the_decision(state, image, decision):
    assert rebuild_decision(state, running=RUNNING, image=image) == decision


def _record(decision, *, image="", commit=HEAD) -> RebuildRecord:
    return RebuildRecord(service="langgraph", digest=RUNNING, hour="2026-11-21T06", requested_at="t",
                         decision=decision, commit=commit, image=image)


def test_unchanged_inputs_say_no_rebuild_and_to_update_the_pin():
    line = rebuild_line(_record("inputs unchanged", image=RUNNING))
    assert line.startswith("no rebuild: the inputs are unchanged (base images pinned by digest); update the pin")
    assert "1279bbb" in line


def test_each_decision_reads_as_requested_or_not():
    lines = {d: rebuild_line(_record(d, image=OTHER)) for d in
             ("rebuild started", "rebuild under way", "reused", "inputs unchanged", "built already", "inputs unknown")}
    assert {d for d, line in lines.items() if line.startswith("rebuild requested")} == {
        "rebuild started", "rebuild under way", "reused"}
    assert {d for d, line in lines.items() if line.startswith("no rebuild")} == {
        "inputs unchanged", "built already", "inputs unknown"}
    assert "bbbbbbbbbbbb" in lines["reused"] and "--force" in lines["inputs unknown"]


def test_a_request_not_decided_yet_says_so():
    assert rebuild_line(_record(None)).startswith("rebuild requested at the branch head; the build starter had not")


def test_a_branch_head_resolved_by_the_build_is_named_as_the_branch():
    assert "the inputs at main cannot be read" in rebuild_line(_record("inputs unknown", commit="main"))


def _request(**detail) -> BuildRequest:
    return BuildRequest.model_validate({"project": "p", "environment": "dev", "branch": "main", **detail})


def test_a_rebuild_request_carries_its_reason_and_goes_on_the_bus_with_it():
    reason = {"digest": RUNNING, "hour": "2026-11-21T06", "vulnerability": "CVE-2026-0001"}
    request = _request(trigger="finding", reason=reason, services=["langgraph"])
    assert request.reason == RebuildReason(**reason)
    assert request.detail()["reason"] == reason and "force" not in request.detail()
    assert "reason" not in _request().detail()


@pytest.mark.parametrize(("detail", "message"), [
    ({"trigger": "finding"}, "a reason .* goes with trigger finding, and only with it"),
    ({"reason": {"digest": RUNNING, "hour": "2026-11-21T06"}}, "a reason .* goes with trigger finding"),
    ({"trigger": "finding", "force": True, "reason": {"digest": RUNNING, "hour": "2026-11-21T06"}},
     "never forced"),
    ({"trigger": "finding", "reason": {"digest": "sha256:short", "hour": "2026-11-21T06"}}, "digest"),
])
def test_a_malformed_rebuild_request_is_refused_with_its_reason(detail, message):
    with pytest.raises(ValidationError, match=message):
        _request(**detail)
