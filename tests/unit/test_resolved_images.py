"""The digest ECS resolved for a revision that names its image by tag: the service's deployments
(ListServiceDeployments, newest first) name their target service revisions, described 20 at most
a call (DescribeServiceRevisions), newest first, until one is of that revision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.adapters import ecs
from pipeline.domain.task_definitions import resolved_digest_of

URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app"
FAMILY = "project-dev-app"


def digest(arn: str) -> str:
    return f"sha256:{int(arn.rsplit('/', 1)[1]):064d}"


class FakeEcs:
    """Deployment i targets revision `revisions[i]` (oldest first); a revision in `undescribable` is a failure."""

    def __init__(self, revisions: list[int], undescribable: frozenset[str] = frozenset()) -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        self.deployments = [{"serviceDeploymentArn": f"d{i}", "createdAt": start + timedelta(minutes=i),
                             "targetServiceRevisionArn": f"arn:sr/{i}"} for i in range(len(revisions))]
        self.revisions = {f"arn:sr/{i}": r for i, r in enumerate(revisions)}
        self.undescribable = undescribable
        self.asked: list[list[str]] = []

    def list_service_deployments(self, **_: object) -> dict:
        return {"serviceDeployments": list(self.deployments)}

    def describe_service_revisions(self, serviceRevisionArns: list[str]) -> dict:  # noqa: N803 - the API's name
        assert 1 <= len(serviceRevisionArns) <= 20
        self.asked.append(serviceRevisionArns)
        found = [{"serviceRevisionArn": a, "taskDefinition": f"arn:aws:ecs:us-east-1:1:task-definition/{FAMILY}:"
                  f"{self.revisions[a]}", "containerImages": [
                      {"containerName": "x", "image": "public.ecr.aws/x:1", "imageDigest": "sha256:" + "f" * 64},
                      {"containerName": "app", "image": f"{URI}:latest", "imageDigest": digest(a)}]}
                 for a in serviceRevisionArns if a not in self.undescribable]
        return {"serviceRevisions": found,
                "failures": [{"arn": a, "reason": "MISSING"} for a in serviceRevisionArns if a in self.undescribable]}


def test_the_newest_service_revision_of_the_revision_gives_the_digest_of_the_repositorys_image() -> None:
    fake = FakeEcs([3] + [4] * 24 + [3] + [5])  # revision 3 deployed first, and again 26th
    images = ecs.resolved_images("c", "s", f"{FAMILY}:3", ecs=fake)
    assert images is not None
    assert resolved_digest_of(images, URI) == digest("arn:sr/25")  # the newer of the two
    assert [len(a) for a in fake.asked] == [20]  # newest first: found in the first call


def test_an_older_revision_is_asked_for_in_calls_of_twenty_until_found() -> None:
    fake = FakeEcs([3] + [4] * 30)
    images = ecs.resolved_images("c", "s", f"{FAMILY}:3", ecs=fake)
    assert images is not None and resolved_digest_of(images, URI) == digest("arn:sr/0")
    assert [len(a) for a in fake.asked] == [20, 11]


def test_no_service_revision_that_can_be_described_is_none() -> None:
    fake = FakeEcs([3, 4], undescribable=frozenset({"arn:sr/0"}))  # created before October 25, 2024
    assert ecs.resolved_images("c", "s", f"{FAMILY}:3", ecs=fake) is None
    assert ecs.resolved_images("c", "s", f"{FAMILY}:7", ecs=FakeEcs([])) is None


def test_an_entry_without_a_digest_or_from_another_repository_gives_none() -> None:
    assert resolved_digest_of([{"image": f"{URI}:latest"}], URI) is None
    assert resolved_digest_of([{"image": f"{URI}-other:latest", "imageDigest": "sha256:" + "1" * 64}], URI) is None
    assert resolved_digest_of([{"image": f"{URI}@sha256:{'2' * 64}", "imageDigest": "sha256:" + "2" * 64}],
                              URI) == "sha256:" + "2" * 64
