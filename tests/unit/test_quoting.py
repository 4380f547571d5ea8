"""Echoed input is one printable line: escaped, and cut when long."""

import pytest

from pipeline.domain.manifest import ManifestError, parse_manifest
from pipeline.domain.quoting import VALUE_LIMIT, one_line, shown
from pipeline.domain.webhook import WebhookDecision
from pipeline.events.envelope import InvalidEventError
from pipeline.events.triggers import parse_build_trigger


@pytest.mark.parametrize(("raw", "expected"), [
    ("lang\ngraph", "lang\\x0agraph"),
    ("\x1b[31mred", "\\x1b[31mred"),
    ("a\u2028b", "a\\u2028b"),
    ("tab\there", "tab\\x09here"),
    ("\U000e0001", "\\U000e0001"),
    ("plain text, ünïcode", "plain text, ünïcode"),
])
def test_shown_escapes_what_a_terminal_would_interpret(raw, expected):
    assert shown(raw) == expected


def test_shown_cuts_a_long_value_with_an_ellipsis():
    text = shown("x" * 500)
    assert len(text) == VALUE_LIMIT and text.endswith("…")


def test_one_line_keeps_a_message_on_one_line():
    assert one_line("first\nsecond\r\nthird") == "first\\x0asecond\\x0d\\x0athird"


def test_a_manifest_key_with_a_newline_is_echoed_escaped():
    with pytest.raises(ManifestError) as raised:
        parse_manifest({"services": {"bad\nname": {}}}, "services.toml")
    assert str(raised.value).startswith("services.toml: services.bad\\x0aname")
    assert "\n" not in str(raised.value)


def test_an_event_field_with_control_characters_is_echoed_escaped():
    event = {"version": "0", "id": "1", "source": "aws.events", "account": "1", "region": "r", "resources": [],
             "time": "2026-01-01T00:00:00Z", "detail-type": "x", "detail": {}}
    event["detail-type\x1b"] = event.pop("detail-type")
    with pytest.raises(InvalidEventError) as raised:
        parse_build_trigger(event)
    assert "\x1b" not in str(raised.value)


def test_a_webhook_decision_message_is_one_line():
    assert WebhookDecision(200, "ignored: refs/heads/a\nb").message == "ignored: refs/heads/a\\x0ab"
