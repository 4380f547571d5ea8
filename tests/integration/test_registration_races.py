"""Registrations racing, against moto: two images of one service registered at once (one paused
inside RegisterTaskDefinition while the other runs), and a registration that died after ECS
registered its revision. One registration of a service at a time (the ledger's lease): never
older over newer, one revision per digest."""

# ruff: noqa: F811 - the tests take test_image_events's fixtures as arguments

from __future__ import annotations

import json

import boto3
import pytest

from pipeline.adapters import ecs, ledger
from pipeline.flows.registration import RegistrationBusyError
from tests.integration.test_image_events import (  # noqa: F401 - fixtures
    REPO,
    URI,
    digest_of,
    images,
    push_event,
    push_image,
    revisions,
)
from tests.support.races import Pause, Run


def _gate(monkeypatch, value: str) -> None:
    from pipeline.settings import get_settings

    monkeypatch.setenv("REGISTRATION_GATE", value)
    get_settings.cache_clear()


def _of_digest(digest: str):
    return lambda arguments, *a, **k: digest in json.dumps(arguments)


def _current() -> tuple[str, int] | None:
    from pipeline.settings import ImageEventsSettings, get_settings

    settings = get_settings(ImageEventsSettings)
    found = ledger.read_current(settings.ledger_table, settings.ledger_key("langgraph"))
    return None if found is None else (found.digest, found.revision)


def _image_of(revision: dict) -> str:
    return revision["containerDefinitions"][0]["image"]


def _tags_of(digest: str) -> set[str]:
    (detail,) = boto3.client("ecr").describe_images(repositoryName=REPO, imageIds=[{"imageDigest": digest}])[
        "imageDetails"]
    return set(detail.get("imageTags", []))


def test_a_newer_push_during_an_older_ones_registration_waits_and_ends_current(images, push_image, monkeypatch):
    """The older commit's push holds the service's lease inside RegisterTaskDefinition; the newer
    one's fails (Lambda retries it) instead of registering between the older one's read of the
    current revision and its record. Its retry registers it over the older: the newer is current
    in the ledger and ECS's latest revision, and carries the live tag."""
    _gate(monkeypatch, "none")
    older = push_image("1111111", digest_of("older"), seconds_ago=60)
    newer = push_image("2222222", digest_of("newer"))
    pause = Pause(monkeypatch, ecs, "register_task_definition", when=_of_digest(older))
    slow = Run(lambda: images(push_event("1111111", older, seconds_ago=60)))
    slow.start()
    pause.wait()
    with pytest.raises(RegistrationBusyError, match="another image of langgraph is being registered now"):
        images(push_event("2222222", newer))
    pause.go.set()
    assert slow.outcome()["outcome"] == "registered"
    assert images(push_event("2222222", newer))["outcome"] == "registered"  # Lambda's retry
    latest = revisions()[-1]
    assert _current() == (newer, latest["revision"]) and _image_of(latest) == f"{URI}@{newer}"
    assert "live-dev" in _tags_of(newer) and "live-dev" not in _tags_of(older)


def test_an_older_push_during_a_newer_ones_registration_is_older_than_current_on_its_retry(images, push_image,
                                                                                          monkeypatch):
    _gate(monkeypatch, "none")
    older = push_image("1111111", digest_of("older"), seconds_ago=60)
    newer = push_image("2222222", digest_of("newer"))
    pause = Pause(monkeypatch, ecs, "register_task_definition", when=_of_digest(newer))
    slow = Run(lambda: images(push_event("2222222", newer)))
    slow.start()
    pause.wait()
    with pytest.raises(RegistrationBusyError):
        images(push_event("1111111", older, seconds_ago=60))
    pause.go.set()
    assert slow.outcome()["outcome"] == "registered"
    assert images(push_event("1111111", older, seconds_ago=60))["outcome"] == "older than current"
    assert [_image_of(r) for r in revisions()] == [f"{URI}@{newer}"]


def test_a_registration_that_died_after_ecs_registered_keeps_the_lease_for_its_retry(images, push_image,
                                                                                     monkeypatch, faults):
    """The newer image's revision is registered, then the ledger's record of it fails: the ledger
    does not know revision 1 runs the newer image. An older image's late push, before the newer
    one's retry, must not be registered over it: the lease stays with the newer digest, its retry
    takes it over and records revision 1, and the older is then older than current."""
    _gate(monkeypatch, "none")
    newer = push_image("2222222", digest_of("newer"))
    older = push_image("1111111", digest_of("older"), seconds_ago=60)
    faults.inject("dynamodb", "TransactWriteItems", "access-denied", times=1)
    with pytest.raises(Exception, match="AccessDenied"):
        images(push_event("2222222", newer))
    with pytest.raises(RegistrationBusyError):
        images(push_event("1111111", older, seconds_ago=60))
    assert images(push_event("2222222", newer))["outcome"] == "already current"  # the newer one's retry
    assert images(push_event("1111111", older, seconds_ago=60))["outcome"] == "older than current"
    assert [_image_of(r) for r in revisions()] == [f"{URI}@{newer}"]
    assert _current() == (newer, 1)


def test_the_lease_is_given_up_whatever_the_registration_came_to(images, push_image, monkeypatch):
    """Registered, older than current, or failed before ECS registered anything: the next image
    of the service is registered at once (no lease left behind)."""
    _gate(monkeypatch, "none")
    first = push_image("2222222", digest_of("first"))
    assert images(push_event("2222222", first))["outcome"] == "registered"
    old = push_image("1111111", digest_of("old"), seconds_ago=60)
    assert images(push_event("1111111", old, seconds_ago=60))["outcome"] == "older than current"
    newest = push_image("3333333", digest_of("newest"))
    assert images(push_event("3333333", newest))["outcome"] == "registered"
    assert _current() == (newest, 2)


def test_a_scan_whose_push_is_registering_under_the_scan_gate_says_so(images, push_image, monkeypatch, stack):
    """Gate scan: the scan's ledger write lands first, the push reads it and registers; the scan
    then finds the push's claim. Its one message says the image is being registered, not that it
    was not."""
    from tests.support.events import load_event

    _gate(monkeypatch, "scan")
    push_image("3b6258b")
    pause_scan = Pause(monkeypatch, ledger, "claim_registration")  # the scan, after its ledger write
    scan = Run(lambda: images(load_event("ecr-image-scan-clean")))
    scan.start()
    pause_scan.wait()
    pause_push = Pause(monkeypatch, ecs, "register_task_definition")
    push = Run(lambda: images(push_event("3b6258b")))
    push.start()
    pause_push.wait()
    pause_scan.go.set()
    assert scan.outcome()["outcome"] == "in flight"
    pause_push.go.set()
    assert push.outcome()["outcome"] == "registered" and len(revisions()) == 1
    (note,) = stack.notifications()
    assert "Registration: being registered now by another invocation (its push event)" in note["message"]
    assert "not registered" not in note["message"]


def test_a_scan_during_its_push_under_gate_none_does_not_claim_the_push_registered(images, push_image, monkeypatch,
                                                                                   stack):
    """The push holds the registration and may yet find the image older than the current one (as
    here): the scan's message says the push is registering it, not that it was registered."""
    from tests.support.events import load_event

    _gate(monkeypatch, "none")
    older = push_image("1111111", digest_of("older"), seconds_ago=60)
    newer = push_image("2222222", digest_of("newer"))
    images(push_event("2222222", newer))
    pause = Pause(monkeypatch, ledger, "read_current_and_commit")  # the push, holding its claim
    push = Run(lambda: images(push_event("1111111", older, seconds_ago=60)))
    push.start()
    pause.wait()
    scan = load_event("ecr-image-scan-clean")
    scan["detail"].update({"image-digest": older, "image-tags": ["1111111"]})
    images(scan)
    pause.go.set()
    assert push.outcome()["outcome"] == "older than current"
    (note,) = stack.notifications()
    assert "gate none: its push is registering it now" in note["message"]
    assert "registered on push" not in note["message"]


def test_the_hold_survives_a_retry_that_fails_again(images, push_image, monkeypatch, faults):
    """The newer image's revision is registered and its record fails (the lease is held for it);
    its first retry finds the revision in ECS and its record fails again: the lease is still held
    for it, so an older image's late push in between is not registered over it."""
    _gate(monkeypatch, "none")
    newer = push_image("2222222", digest_of("newer"))
    older = push_image("1111111", digest_of("older"), seconds_ago=60)
    faults.inject("dynamodb", "TransactWriteItems", "access-denied", times=2)
    for _ in range(2):  # the first attempt, then Lambda's first retry
        with pytest.raises(Exception, match="AccessDenied"):
            images(push_event("2222222", newer))
    with pytest.raises(RegistrationBusyError):
        images(push_event("1111111", older, seconds_ago=60))
    assert images(push_event("2222222", newer))["outcome"] == "already current"  # the last retry
    assert images(push_event("1111111", older, seconds_ago=60))["outcome"] == "older than current"
    assert [_image_of(r) for r in revisions()] == [f"{URI}@{newer}"]


def test_a_hold_left_by_an_event_with_no_retry_left_ends_within_a_later_events_retries(images, push_image,
                                                                                        monkeypatch, faults):
    """The first push's event fails twice before RegisterTaskDefinition, and its last attempt
    registers and then fails to record: Lambda dead-letters it, and its hold has no retry to take
    it over. The hold lasts LEASE_HELD_AFTER_FAILURE (4 minutes), so a newer image pushed two
    minutes later is registered by its own last retry instead of being dead-lettered too."""
    from datetime import UTC, datetime, timedelta

    from pipeline.flows.registration import LEASE_HELD_AFTER_FAILURE

    def at(minutes: float) -> None:  # the ledger's clock, which leases are compared with
        monkeypatch.setattr(ledger, "now", lambda: (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat())

    def attempt(event) -> str:
        try:
            return images(event)["outcome"]
        except RegistrationBusyError:
            return "busy"

    assert LEASE_HELD_AFTER_FAILURE == timedelta(minutes=4)
    _gate(monkeypatch, "none")
    first = push_image("1111111", digest_of("first"), seconds_ago=600)
    faults.inject("ecs", "RegisterTaskDefinition", "access-denied", times=2)
    faults.inject("dynamodb", "TransactWriteItems", "access-denied", times=1)
    for _ in range(3):  # Lambda's three attempts of the first push's event; the last one's failure is "now"
        with pytest.raises(Exception, match="AccessDenied"):
            images(push_event("1111111", first, seconds_ago=600))
    newer = push_image("2222222", digest_of("newer"))
    outcomes = []
    for minute in (2, 3, 5):  # the newer push's three attempts (a minute, then two, apart)
        at(minute)
        outcomes.append(attempt(push_event("2222222", newer)))
    assert outcomes == ["busy", "busy", "registered"]
    assert _current()[0] == newer
