"""Property-based tests: whatever arrives, every parser gives a defined outcome and never an
unhandled exception. The number of cases tried is printed at the end of the run."""

import copy
import json
import tomllib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline.domain.manifest import Manifest, ManifestError, load_manifest, parse_manifest
from pipeline.domain.naming import Target
from pipeline.domain.webhook import decide, plan_push, sign
from pipeline.events.builds import parse_build_state
from pipeline.events.deployments import parse_service_event
from pipeline.events.envelope import InvalidEventError
from pipeline.events.images import parse_image_event
from pipeline.events.triggers import parse_build_trigger
from tests.support.events import LOCAL_WEBHOOK_SECRET, load_event
from tests.support.paths import EVENTS, MANIFEST
from tests.support.properties import TRIED, json_values, mutated, one_printable_line, property_settings

pytestmark = pytest.mark.property

MANIFEST_DATA = load_manifest(MANIFEST)
SAMPLES = {path.stem: json.loads(path.read_text()) for path in EVENTS.glob("*.json")}
ENVELOPES = [s for s in SAMPLES.values() if "detail-type" in s]
PARSERS = (parse_build_trigger, parse_image_event, parse_build_state, parse_service_event)
PROPERTY = property_settings(300)
MANIFEST_DOCUMENT = tomllib.loads(MANIFEST.read_text())


def _damaged(path: tuple, value) -> dict:
    """The repository's manifest with one value replaced (the shape `mutated` draws)."""
    document = copy.deepcopy(MANIFEST_DOCUMENT)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def _parse_all(event) -> None:
    for parser in PARSERS:
        try:
            parser(event)
        except InvalidEventError as exc:
            assert one_printable_line(str(exc))  # one line, never a traceback or a raw control character


@PROPERTY
@given(json_values)
def test_event_parsers_take_any_json(event):
    TRIED["event parsers, any JSON"] += 1
    _parse_all(event)


@PROPERTY
@given(st.sampled_from(ENVELOPES).flatmap(mutated))
def test_event_parsers_take_any_damaged_sample_event(event):
    TRIED["event parsers, damaged samples"] += 1
    _parse_all(event)


def _webhook(body: bytes, headers: dict):
    return decide(branch="main", secret=LOCAL_WEBHOOK_SECRET, body=body, headers=headers)


@PROPERTY
@given(st.binary(max_size=300), st.dictionaries(st.text(max_size=30), st.text(max_size=80), max_size=5))
def test_webhook_answers_any_request_with_a_defined_status(body, headers):
    TRIED["webhook, any request"] += 1
    decision = _webhook(body, headers)
    assert decision.status in {200, 202, 400, 401} and one_printable_line(decision.message)


@PROPERTY
@given(st.one_of(st.binary(max_size=300),
                 mutated(json.loads(load_event("github-push")["body"])).map(lambda d: json.dumps(d).encode())),
       st.sampled_from(["push", "ping", "pull_request", ""]))
def test_webhook_answers_any_signed_body_with_a_defined_status(body, event):
    TRIED["webhook, signed bodies"] += 1
    headers = {"X-Hub-Signature-256": sign(LOCAL_WEBHOOK_SECRET, body), "X-GitHub-Event": event}
    decision = _webhook(body, headers)
    assert decision.status in {200, 202, 400} and one_printable_line(decision.message)
    assert (decision.delivery is not None) == (decision.status == 202)
    if decision.delivery is not None:  # whatever was accepted plans cleanly
        plan_push(MANIFEST_DATA, Target("multi-agent-orchestrator", "dev", "123456789012", "us-east-1"),
                  decision.delivery)


# The three counterexamples CI met (issue 16): table keys holding a newline and other
# control characters, which the message used to repeat raw, over several lines.
@PROPERTY
@example(_damaged(("services", "aws-agent-core", "environments", "prod"), {"\xcd\n": None}))
@example(_damaged(("services", "aws-agent-core", "environments"), {"\xeb4\xd7\n\x04": {"key": 1}}))
@example(_damaged(("services", "aws-agent-core"), {"~N\n\x88": [], "\x1b[31m": 0}))
@given(mutated(MANIFEST_DOCUMENT, max_changes=2))
def test_manifest_loader_gives_a_manifest_or_one_manifest_error(document):
    TRIED["manifest loader, damaged manifests"] += 1
    try:
        assert isinstance(parse_manifest(document, "services.toml"), Manifest)
    except ManifestError as exc:
        message = str(exc)
        assert message.startswith("services.toml: ") and one_printable_line(message)


@PROPERTY
@given(json_values)
def test_manifest_loader_takes_any_document(document):
    TRIED["manifest loader, any JSON"] += 1
    try:
        assert isinstance(parse_manifest(document), Manifest)
    except ManifestError as exc:
        assert one_printable_line(str(exc))


@pytest.mark.parametrize(("parse", "kinds"), [
    (parse_image_event, "'ECR Image Action', 'ECR Image Scan', 'Inspector2 Scan', 'Inspector2 Finding', "
                        "'Inspector2 Coverage', 'Scheduled Event'"),
    (parse_build_trigger, "'CodeCommit Repository State Change', 'Scheduled Event', 'Build Requested'"),
])
@pytest.mark.parametrize("event", [{}, {"detail-type": "ECS Task State Change"}, {"detail-type": ["x"]}, [], None])
def test_an_event_of_a_kind_the_function_does_not_take_is_named_with_the_kinds_it_does(parse, kinds, event):
    with pytest.raises(InvalidEventError) as raised:
        parse(event)
    message = str(raised.value)
    assert message.startswith("not a") and "detail-type" in message and message.endswith(f"(expected {kinds})")


def test_a_long_detail_type_is_cut_and_the_kinds_taken_are_still_named():
    with pytest.raises(InvalidEventError) as raised:
        parse_image_event({"detail-type": "x" * 10_000})
    assert str(raised.value).endswith("'Inspector2 Finding', 'Inspector2 Coverage', 'Scheduled Event')")
