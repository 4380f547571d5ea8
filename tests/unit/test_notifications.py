"""Messages: plain text for email, a Chatbot notification otherwise, and a subject SNS accepts."""

import json

from pipeline.domain.naming import Target
from pipeline.domain.notifications import SUBJECT_LIMIT, build_failure_notification, scan_notification
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


def test_a_subject_is_one_line_under_snss_limit_whatever_it_carries():
    note = _scan(service="x" * 150 + "\n\x1b[2J")
    assert len(note.subject) <= SUBJECT_LIMIT < 100
    assert note.subject.isprintable() and note.subject.endswith("…")


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


def test_findings_digest_names_every_finding_and_counts_them():
    from pipeline.domain.notifications import findings_digest_notification
    from pipeline.domain.scans import Finding

    findings = [Finding("CVE-2026-0001", "CRITICAL", "openssl", "3.0.15", "3.0.16"),
                Finding("CVE-2026-0002", "CRITICAL", "libexpat1", "2.5.0")]
    note = findings_digest_notification(target=TARGET, service="langgraph", repository="r", digest="sha256:" + "a" * 64,
                                        tag="1279bbb", findings=findings, hour="2026-11-21T07")
    assert note.subject == "[shipline] langgraph:1279bbb new findings: CRITICAL 2"
    assert "CVE-2026-0001" in note.text and "openssl 3.0.15 (fixed in 3.0.16)" in note.text
    assert "CVE-2026-0002" in note.text and note.event_type == "FindingsDigest"
