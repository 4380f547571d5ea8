"""The registration gate and the scan verdict it reads."""

import pytest

from pipeline.domain.gate import decide, gate_for
from pipeline.domain.scans import judge, rank, severity_counts


@pytest.mark.parametrize(("environment", "configured", "expected"), [
    ("dev", None, "none"), ("staging", None, "scan"), ("prod", None, "scan"),
    ("dev", "scan", "scan"), ("prod", "none", "none"), ("qa", None, "scan"), ("dev", "bogus", "none"),
])
def test_gate_for_an_environment(environment, configured, expected):
    assert gate_for(environment, configured) == expected


def test_gate_none_registers_whatever_the_scan():
    assert decide("none", judge({"CRITICAL": 5})).decision == "register"
    assert decide("none", None).decision == "register"


def test_gate_scan_waits_for_the_scan():
    decision = decide("scan", None)
    assert decision.decision == "wait" and "waiting for the scan" in decision.reason


def test_gate_scan_holds_a_finding_at_the_threshold_and_says_which():
    decision = decide("scan", judge({"HIGH": 2, "CRITICAL": 1, "LOW": 4}, "HIGH"))
    assert decision.decision == "hold"
    assert decision.reason == "gate scan: held back by CRITICAL 1, HIGH 2 (threshold HIGH)"


def test_gate_scan_registers_below_the_threshold():
    decision = decide("scan", judge({"MEDIUM": 3}, "HIGH"))
    assert decision.decision == "register" and "no finding at or above HIGH" in decision.reason


def test_judge_orders_counts_most_severe_first_and_drops_zeros_and_totals():
    verdict = judge({"low": 1, "CRITICAL": 0, "HIGH": 2, "TOTAL": 3})
    assert verdict.counts == {"HIGH": 2, "LOW": 1}
    assert verdict.worst == "HIGH" and verdict.passed  # threshold CRITICAL by default
    assert verdict.summary() == "HIGH 2, LOW 1"


def test_an_empty_scan_passes_with_no_worst():
    verdict = judge({}, "INFORMATIONAL")
    assert verdict.passed and verdict.worst is None and verdict.summary() == "no findings"


def test_undefined_ranks_with_informational_and_an_unknown_severity_with_critical():
    assert rank("UNDEFINED") == rank("INFORMATIONAL") > rank("NONSENSE") == rank("CRITICAL")
    assert severity_counts({"UNDEFINED": 1}) == {"UNDEFINED": 1}


@pytest.mark.parametrize("threshold", ["CRITICAL", "HIGH", "LOW"])
def test_a_severity_the_gate_does_not_know_blocks_and_is_shown_under_its_name(threshold):
    """Fail closed: a scan naming a severity not known here (a new one, a damaged event) is not
    a clean scan. It counts as a finding at CRITICAL, listed after CRITICAL, by its own name."""
    verdict = judge({"severe": 4, "HIGH": 1, "CRITICAL": 2, "TOTAL": 7}, threshold)
    assert verdict.counts == {"CRITICAL": 2, "SEVERE": 4, "HIGH": 1}
    assert not verdict.passed and "SEVERE" in verdict.blocking
    assert decide("scan", judge({"BOGUS": 5}, threshold)).decision == "hold"
