"""Task-definition revisions: cloned from the latest, with only our containers' image changed."""

import pytest

from pipeline.domain.task_definitions import (
    DIGEST_LABEL,
    SHA_LABEL,
    Image,
    NoContainerForRepositoryError,
    image_digest_of,
    revise_task_definition,
)

URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/p-dev-langgraph"
OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def _latest(**extra) -> dict:
    return {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/p-dev-langgraph:3",
        "family": "p-dev-langgraph", "revision": 3, "status": "ACTIVE", "registeredAt": "2026-11-20",
        "requiresAttributes": [{"name": "x"}], "compatibilities": ["FARGATE"], "cpu": "512", "memory": "1024",
        "containerDefinitions": [
            {"name": "langgraph", "image": f"{URI}@{OLD}", "dockerLabels": {"team": "agents", DIGEST_LABEL: OLD}},
            {"name": "sidecar", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"},
        ],
        **extra,
    }


def test_only_our_container_gets_the_new_digest_and_its_labels():
    revised = revise_task_definition(_latest(), Image(URI, NEW, "abc1234"))
    ours, sidecar = revised["containerDefinitions"]
    assert ours["image"] == f"{URI}@{NEW}"
    assert ours["dockerLabels"] == {"team": "agents", DIGEST_LABEL: NEW, SHA_LABEL: "abc1234"}
    assert sidecar == _latest()["containerDefinitions"][1]


def test_what_describe_returns_but_register_does_not_take_is_dropped():
    revised = revise_task_definition(_latest(), Image(URI, NEW))
    for key in ("taskDefinitionArn", "revision", "status", "registeredAt", "requiresAttributes", "compatibilities"):
        assert key not in revised
    assert revised["cpu"] == "512" and revised["family"] == "p-dev-langgraph"


def test_the_latest_revision_is_not_changed_in_place():
    latest = _latest()
    revise_task_definition(latest, Image(URI, NEW))
    assert latest == _latest()


def test_tags_are_carried_when_given():
    tags = [{"key": "shipline:service", "value": "langgraph"}]
    assert revise_task_definition(_latest(), Image(URI, NEW), tags)["tags"] == tags


def test_a_digest_already_running_gives_nothing_to_register():
    assert revise_task_definition(_latest(), Image(URI, OLD)) is None


def test_a_family_without_a_container_from_the_repository_is_refused():
    other = "123456789012.dkr.ecr.us-east-1.amazonaws.com/p-dev-other"
    with pytest.raises(NoContainerForRepositoryError, match="p-dev-langgraph:3 has no container from"):
        revise_task_definition(_latest(), Image(other, NEW))


def test_a_tag_reference_counts_as_the_repository():
    latest = _latest()
    latest["containerDefinitions"][0]["image"] = f"{URI}:latest"
    assert revise_task_definition(latest, Image(URI, NEW))["containerDefinitions"][0]["image"] == f"{URI}@{NEW}"
    assert image_digest_of(latest, URI) is None
    assert image_digest_of(_latest(), URI) == OLD
