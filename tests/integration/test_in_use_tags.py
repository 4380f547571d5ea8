# ruff: noqa: F811 - the image events tests' fixtures (images, push_image) are imported, then requested by name
"""The ECR lifecycle policy against the revisions retention keeps because they are in use (found by
a probe): retention keeps an in-use revision ACTIVE (README, "Revision retention"), and its image
carries `live-<environment>-r<revision>`, which the policy's first rule keeps, until no revision in
use runs it. Before, only the `live-<environment>` digest was kept: the image of an ACTIVE revision
the ECS service runs (a rollback, or Rollout none with the service not moved yet) or a scheduled
task names was expired by ECR's count rule."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from pipeline.domain.repositories import RepositorySpec
from tests.integration.test_image_events import (  # noqa: F401 - fixtures
    REPO,
    digest_of,
    images,
    push_event,
    push_image,
)
from tests.integration.test_retention import arn, schedule_rule, scheduled_manifest
from tests.support.lifecycle import StoredImage, expired

FAMILY = REPO
CLUSTER = "multi-agent-orchestrator-dev"
IMAGES_TO_KEEP = 3


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {"RevisionsToKeep": "1", "ImagesToKeep": str(IMAGES_TO_KEEP)}


def register(images, push_image, n: int) -> str:  # noqa: F811
    """The n-th commit's image, pushed and registered as revision n (each newer than the last)."""
    tag = f"{n:07d}"
    digest = push_image(tag, digest_of(f"image {n}"), seconds_ago=100 - n * 5)
    assert images(push_event(tag, digest, seconds_ago=100 - n * 5))["outcome"] == "registered"
    return digest


def tags_of(digest: str) -> set[str] | None:
    """The image's tags; None when the image is no longer in the repository."""
    ecr = boto3.client("ecr")
    try:
        (detail,) = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": digest}])["imageDetails"]
    except ecr.exceptions.ImageNotFoundException:
        return None
    return set(detail.get("imageTags", []))


def statuses() -> dict[int, str]:
    ecs = boto3.client("ecs")
    found = {}
    for status in ("ACTIVE", "INACTIVE"):
        for name in ecs.list_task_definitions(familyPrefix=FAMILY, status=status)["taskDefinitionArns"]:
            found[int(name.rsplit(":", 1)[1])] = status
    return found


def run_service_on(revision: int) -> None:
    """The ECS service services.toml names runs this revision (and only it)."""
    ecs = boto3.client("ecs")
    if not ecs.list_clusters()["clusterArns"]:
        ecs.create_cluster(clusterName=CLUSTER)
    existing = ecs.describe_services(cluster=CLUSTER, services=[FAMILY])["services"]
    if existing and existing[0]["status"] == "ACTIVE":
        ecs.delete_service(cluster=CLUSTER, service=FAMILY, force=True)
    ecs.create_service(cluster=CLUSTER, serviceName=FAMILY, taskDefinition=f"{FAMILY}:{revision}", desiredCount=1)


def expired_now() -> set[str]:
    """What one evaluation of the repositories' lifecycle policy expires in the repository now."""
    details = boto3.client("ecr").describe_images(repositoryName=REPO)["imageDetails"]
    stored = [StoredImage(d["imageDigest"], frozenset(d.get("imageTags", [])), d["imagePushedAt"]) for d in details]
    policy = RepositorySpec(name=REPO, project="multi-agent-orchestrator", environment="dev", service="langgraph",
                            keep_sha_images=IMAGES_TO_KEEP).lifecycle_policy()
    return expired(policy, stored, datetime.now(UTC))


def test_the_image_of_an_active_revision_the_service_runs_is_never_expired(images, push_image, stack):  # noqa: F811
    first = register(images, push_image, 1)
    run_service_on(1)
    for n in range(2, 6):  # four later images, each registered; the service stays on revision 1
        register(images, push_image, n)
    assert statuses()[1] == "ACTIVE"  # retention kept it: the service uses it
    assert first not in expired_now(), f"ECR's lifecycle policy expires {first}, the image of ACTIVE revision 1"
    assert tags_of(first) == {"0000001", "live-dev-r1"}


def test_the_images_of_every_revision_in_use_are_kept_by_the_lifecycle_policy(images, push_image, stack,  # noqa: F811
                                                                             tmp_path, monkeypatch):
    """The service on revision 1, a scheduled rule naming revision 2, the current revision 8: the
    policy, judged by ECR's documented rules, expires none of their images (ImagesToKeep 3)."""
    scheduled_manifest(tmp_path, monkeypatch)
    digests = {1: register(images, push_image, 1)}
    run_service_on(1)
    digests[2] = register(images, push_image, 2)
    schedule_rule(arn(2))
    for n in range(3, 9):
        digests[n] = register(images, push_image, n)
    gone = expired_now()
    assert gone  # the count rule does expire older images
    assert {r: digests[r] in gone for r in (1, 2, 8)} == {1: False, 2: False, 8: False}
    assert tags_of(digests[1]) == {"0000001", "live-dev-r1"} and tags_of(digests[2]) == {"0000002", "live-dev-r2"}


def test_an_image_loses_its_in_use_tag_once_no_revision_in_use_runs_it(images, push_image, stack, calls):  # noqa: F811
    first = register(images, push_image, 1)
    run_service_on(1)
    register(images, push_image, 2)
    assert tags_of(first) == {"0000001", "live-dev-r1"}
    calls.made.clear()
    register(images, push_image, 3)  # nothing changed: no ECR call for in-use tags
    assert [c[1] for c in calls.made if c[0] == "ecr"] == ["BatchGetImage", "PutImage"]  # the live tag's
    run_service_on(3)  # the service moved on: revision 1 is no longer in use
    fourth = register(images, push_image, 4)
    assert tags_of(first) == {"0000001"}  # an ordinary commit image again: the count rule may expire it
    assert statuses()[1] == "INACTIVE"
    assert tags_of(fourth) == {"0000004", "live-dev"}
    third = digest_of("image 3")
    assert "live-dev-r3" in (tags_of(third) or set())  # what the service runs now


def test_an_image_whose_in_use_tag_is_its_last_lasting_tag_keeps_it(images, push_image, stack, calls):  # noqa: F811
    """Removing an image's last tag deletes the image (ECR API Reference, BatchDeleteImage): when
    its commit tag is gone (removed by hand), the in-use tag stays, and is not asked about again."""
    first = register(images, push_image, 1)
    run_service_on(1)
    register(images, push_image, 2)
    ecr = boto3.client("ecr")
    ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": "0000001"}])
    assert tags_of(first) == {"live-dev-r1"}
    run_service_on(2)
    register(images, push_image, 3)
    assert tags_of(first) == {"live-dev-r1"}  # still there, with its tag
    assert not [c for c in calls.made if c[1] == "BatchDeleteImage" and c[0] == "ecr"
                and c[2]["imageIds"] == [{"imageTag": "live-dev-r1"}]]
    calls.made.clear()
    run_service_on(3)
    register(images, push_image, 4)
    assert not [c for c in calls.made if c[0] == "ecr" and c[1] == "DescribeImages"
                and c[2]["imageIds"] == [{"imageDigest": first}]]  # forgotten
    assert tags_of(first) == {"live-dev-r1"}


def _run_a_revision_naming_latest(images, push_image) -> tuple[str, int]:  # noqa: F811
    """Revision 1 (digest-pinned by shipline, its image also pushed as `latest`), then a revision
    registered by hand naming `<repository>:latest`, which the ECS service is created on."""
    ecr, ecs = boto3.client("ecr"), boto3.client("ecs")
    first = register(images, push_image, 1)
    push_image("latest", first)  # the build pushed `latest` with it
    uri = ecr.describe_repositories(repositoryNames=[REPO])["repositories"][0]["repositoryUri"]
    definition = ecs.describe_task_definition(taskDefinition=f"{FAMILY}:1")["taskDefinition"]
    containers = [dict(c, image=f"{uri}:latest") if c["image"].startswith(uri) else c
                  for c in definition["containerDefinitions"]]
    by_tag = ecs.register_task_definition(family=FAMILY, containerDefinitions=containers,
                                          **{k: definition[k] for k in ("cpu", "memory", "networkMode",
                                                                        "requiresCompatibilities")
                                             if k in definition})["taskDefinition"]["revision"]
    run_service_on(by_tag)  # ECS resolved :latest to `first`; the service runs `first`
    return first, by_tag


def _later_builds(images, push_image) -> None:  # noqa: F811
    """Later builds: each pushes its commit tag and `latest` (moved), then registers."""
    ecr = boto3.client("ecr")
    for n in range(2, 7):
        tag = f"{n:07d}"
        digest = push_image(tag, digest_of(f"image {n}"), seconds_ago=100 - n * 5)
        ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": "latest"}])  # a moved tag
        push_image("latest", digest)
        assert images(push_event(tag, digest, seconds_ago=100 - n * 5))["outcome"] == "registered"


def test_a_revision_in_use_that_names_its_image_by_tag_gets_its_tag_on_the_digest_ecs_resolved(images, push_image,
                                                                                              stack):  # noqa: F811
    """A revision made outside shipline names `<repository>:latest`. When the service deployed it,
    ECS resolved the tag to the digest X and runs X from then on (ECS API Reference,
    "ContainerImage": ECS "resolves container image names and any image tags specified in the
    task definition to container image digests ... and uses the digest to start any other desired
    tasks"); every build moves `latest` on. ECS says which digest it resolved (the service
    revision's containerImages, found through ListServiceDeployments and DescribeServiceRevisions):
    X carries the in-use tag, not the image `latest` names now, and the lifecycle policy keeps X."""
    first, by_tag = _run_a_revision_naming_latest(images, push_image)
    _later_builds(images, push_image)
    tag = f"live-dev-r{by_tag}"
    assert tag in (tags_of(first) or set())
    assert all(tag not in (tags_of(digest_of(f"image {n}")) or set()) for n in range(2, 7))
    assert first not in expired_now()
    assert not [n for n in stack.notifications() if "names its image by tag" in n["subject"]]


def test_a_revision_in_use_that_names_its_image_by_tag_puts_its_tag_on_no_image_it_does_not_run(images, push_image,
                                                                                        stack, emulation):
    """When ECS has no service revision of it to describe (one created before October 25, 2024
    cannot be: DescribeServiceRevisions answers a failure), which digest ECS resolved is not known
    here, so the in-use tag goes on no image (on whichever image has `latest` now it would protect
    an image the service does not run, leaving X unprotected while claiming otherwise); X is kept
    by the count alone, and a person is told once."""
    first, by_tag = _run_a_revision_naming_latest(images, push_image)
    emulation.deployments.revisions.clear()  # ECS cannot describe the service's revisions
    _later_builds(images, push_image)
    tag = f"live-dev-r{by_tag}"
    assert all(tag not in (tags_of(d) or set()) for d in [first, *(digest_of(f"image {n}") for n in range(2, 7))])
    # a person is told, once, that the image this revision runs cannot be kept
    told = [n for n in stack.notifications() if "names its image by tag" in n["subject"]]
    assert [n["subject"] for n in told] == [
        f"[shipline] langgraph in dev: revision {by_tag} in use names its image by tag"]
    assert f"{REPO}:latest" in told[0]["message"] and "ImagesToKeep" in told[0]["message"]
