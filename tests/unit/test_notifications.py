"""Messages: plain text for email, a Chatbot notification otherwise, and a subject SNS accepts."""

import json

import pytest

from pipeline.domain.naming import Target
from pipeline.domain.notifications import SUBJECT_LIMIT, build_failure_notification, scan_notification
from pipeline.domain.records import RunningRevision
from pipeline.domain.scans import Finding, judge

TARGET = Target("multi-agent-orchestrator", "staging", "123456789012", "us-east-1")
DIGEST = "sha256:" + "a" * 64


def _scan(**overrides):
    arguments = dict(target=TARGET, service="langgraph", repository="multi-agent-orchestrator-staging-langgraph",
                     digest=DIGEST, tag="abc1234", verdict=judge({"CRITICAL": 1, "HIGH": 2}),
                     findings=[Finding("CVE-2026-0001", "CRITICAL", "openssl", "3.0.2", "3.0.3")],
                     registration="held back: gate scan", scanner="ECR basic scanning")
    return scan_notification(**{**arguments, **overrides})


def test_scan_message_names_service_image_findings_and_what_registration_did():
    note = _scan()
    assert note.subject == "[shipline] langgraph:abc1234 scanned: CRITICAL"
    for text in ("Service:      langgraph (multi-agent-orchestrator, staging)", f"Digest:       {DIGEST}",
                 "Findings:     CRITICAL 1, HIGH 2", "Registration: held back: gate scan",
                 "CVE-2026-0001", "(fixed in 3.0.3)", "console.aws.amazon.com/ecr/repositories/private/123456789012/"):
        assert text in note.text


def test_sns_message_is_text_for_email_and_sqs_and_chatbot_json_by_default():
    message = json.loads(_scan().sns_message())
    assert message["email"] == message["sqs"] == _scan().text
    chatbot = json.loads(message["default"])
    assert chatbot["source"] == "custom" and chatbot["content"]["title"] == "langgraph:abc1234 scan: CRITICAL"
    assert chatbot["metadata"]["additionalContext"]["registration"] == "held back: gate scan"


def test_an_image_without_a_tag_is_named_by_its_digest():
    assert _scan(tag=None, verdict=judge({})).subject == "[shipline] langgraph:aaaaaaaaaaaa scanned: no findings"


def test_a_subject_is_ascii_whatever_the_names_in_it_carry():
    subject = _scan(service="lang…graph-é").subject
    assert subject.isascii() and "lang...graph-?" in subject


def test_a_subject_is_one_line_under_snss_limit_whatever_it_carries():
    note = _scan(service="x" * 150 + "\n\x1b[2J")
    assert len(note.subject) <= SUBJECT_LIMIT < 100
    assert note.subject.isprintable() and note.subject.isascii() and note.subject.endswith("...")


def test_build_failure_names_commit_phase_reason_and_logs():
    note = build_failure_notification(target=TARGET, service="langgraph", commit="b" * 40, status="FAILED",
                                      phase="PRE_BUILD", reason="COMMAND_EXECUTION_ERROR: exit status 1",
                                      project="p-images", build_id="arn:aws:codebuild:us-east-1:1:build/p:1",
                                      log_link="https://logs.example/1")
    assert note.subject == "[shipline] langgraph build FAILED at bbbbbbb (PRE_BUILD)"
    assert "Status:  FAILED in phase PRE_BUILD" in note.text
    assert "Reason:  COMMAND_EXECUTION_ERROR: exit status 1" in note.text
    assert "Logs: https://logs.example/1" in note.text


def test_build_failure_without_a_log_link_points_at_the_console():
    note = build_failure_notification(target=TARGET, service="langgraph", commit="", status="FAULT",
                                      phase="BUILD", project="p-images", build_id="p-images:1", log_link=None)
    assert "at unknown" in note.subject and "codesuite/codebuild/123456789012/projects/p-images/build/p-images%3A1" \
        in note.text


STAGING_7 = (RunningRevision("langgraph", "staging", 7),)


def _digest(findings, running=STAGING_7):
    from pipeline.domain.notifications import findings_digest_notification

    return findings_digest_notification(target=TARGET, service="langgraph", repository="r", digest=DIGEST,
                                        tag="1279bbb", findings=findings, hour="2026-11-21T07", running=running)


def test_findings_digest_names_every_finding_and_counts_them():
    note = _digest([Finding("CVE-2026-0001", "CRITICAL", "openssl", "3.0.15", "3.0.16"),
                    Finding("CVE-2026-0002", "CRITICAL", "libexpat1", "2.5.0")])
    assert note.subject == "[shipline] langgraph:1279bbb running in staging: new findings: CRITICAL 2"
    assert "CVE-2026-0001" in note.text and "CVE-2026-0002" in note.text and note.event_type == "FindingsDigest"


def test_findings_digest_says_first_where_the_image_runs():
    note = _digest([Finding("CVE-2026-0001", "CRITICAL", "openssl", "3.0.15", "3.0.16")])
    assert note.text.splitlines()[0] == "Running:      langgraph in staging, revision 7"
    assert note.description.startswith("*Running:* langgraph in staging, revision 7")
    assert note.context["running"] == "langgraph in staging, revision 7"


def test_findings_digest_names_every_service_and_environment_the_image_runs_in():
    note = _digest([Finding("CVE-2026-0001", "CRITICAL", "openssl", "3.0.15", "3.0.16")],
                   running=(RunningRevision("langgraph", "staging", 7), RunningRevision("langgraph", "prod", 3)))
    assert "Running:      langgraph in staging, revision 7; langgraph in prod, revision 3" in note.text
    assert "running in staging, prod:" in note.subject


def test_findings_digest_gives_each_findings_package_installed_and_fixed_version():
    note = _digest([Finding("CVE-2026-0001", "CRITICAL", "openssl", "3.0.15", "3.0.16")])
    assert "CVE-2026-0001        openssl 3.0.15, fixed in 3.0.16" in note.text
    assert "CVE-2026-0001 openssl 3.0.15, fixed in 3.0.16" in note.description


def test_findings_digest_says_no_fix_yet_when_no_version_fixes_it():
    note = _digest([Finding("CVE-2026-0003", "CRITICAL", "zlib1g", "1:1.2.13.dfsg-1")])
    assert "CVE-2026-0003        zlib1g 1:1.2.13.dfsg-1, no fix yet" in note.text
    assert "fixed in" not in note.text



@pytest.mark.parametrize("status", ["FAILED", "INACTIVE UNSUPPORTED_OS"])
def test_a_scan_that_did_not_complete_is_not_called_clean_in_the_subject(status):
    note = _scan(tag=None, verdict=judge({}, status=status))
    assert note.subject == f"[shipline] langgraph:aaaaaaaaaaaa scanned: scan not completed ({status})"
    assert "no findings" not in note.subject
