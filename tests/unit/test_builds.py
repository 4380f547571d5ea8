import pytest

from pipeline.domain.builds import plan_builds
from pipeline.domain.manifest import UnknownServiceError, load_manifest
from pipeline.domain.naming import InvalidCommitError, Target, short_sha
from tests.support.paths import MANIFEST

COMMIT = "3b6258b2d01afe2f989c7f7a5af86223f7aaa9f2"
TARGET = Target("multi-agent-orchestrator", "dev", "123456789012", "us-east-1")


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(MANIFEST)


def test_push_of_langgraph_dockerfile_plans_one_build(manifest):
    plans = plan_builds(manifest, TARGET, source_version=COMMIT, trigger="github",
                        changed_paths=["docker/langgraph/Dockerfile"])
    assert [p.service for p in plans] == ["langgraph"]


def test_build_is_tagged_with_short_sha_and_latest(manifest):
    (plan,) = plan_builds(manifest, TARGET, source_version=COMMIT, trigger="codecommit", services=["langgraph"])
    assert plan.tags == ("3b6258b", "latest")
    assert plan.environment_overrides() == {
        "SERVICE": "langgraph",
        "DOCKERFILE": "docker/langgraph/Dockerfile",
        "BUILD_CONTEXT": ".",
        "REPOSITORY_URI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/multi-agent-orchestrator-dev-langgraph",
        "IMAGE_TAGS": "3b6258b latest",
        "TRIGGER": "codecommit",
    }


def test_unknown_paths_list_means_every_service(manifest):
    plans = plan_builds(manifest, TARGET, source_version=COMMIT, trigger="github")
    assert [p.service for p in plans] == list(manifest.names)


def test_a_commit_is_built_once_per_service(manifest):
    first = plan_builds(manifest, TARGET, source_version=COMMIT, trigger="github", services=["langgraph"])
    again = plan_builds(manifest, TARGET, source_version=COMMIT, trigger="request", services=["langgraph"],
                        occasion="other-event")
    assert first[0].idempotency_key == again[0].idempotency_key == f"langgraph@{COMMIT}"


def test_each_scheduled_rebuild_is_its_own_occasion(manifest):
    monday = plan_builds(manifest, TARGET, source_version=COMMIT, trigger="schedule", occasion="evt-1")
    tuesday = plan_builds(manifest, TARGET, source_version=COMMIT, trigger="schedule", occasion="evt-2")
    assert monday[0].idempotency_key != tuesday[0].idempotency_key


def test_branch_build_leaves_tagging_to_the_buildspec(manifest):
    (plan,) = plan_builds(manifest, TARGET, source_version="main", trigger="schedule", services=["langgraph"],
                          occasion="evt")
    assert plan.tags == () and plan.environment_overrides()["IMAGE_TAGS"] == ""


def test_service_missing_from_manifest_is_an_error(manifest):
    with pytest.raises(UnknownServiceError, match="'billing' is not in the manifest"):
        plan_builds(manifest, TARGET, source_version=COMMIT, trigger="request", services=["billing"])


def test_names_follow_the_guide():
    assert TARGET.repository("langgraph") == "multi-agent-orchestrator-dev-langgraph"
    assert TARGET.image_uri("aws-agent-core", "latest") == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/multi-agent-orchestrator-dev-aws-agent-core:latest"
    )
    assert TARGET.log_group("langgraph") == "/ecs/multi-agent-orchestrator-dev-langgraph"
    assert TARGET.service_of("multi-agent-orchestrator-dev-langgraph") == "langgraph"
    assert TARGET.service_of("other-project-dev-langgraph") is None


def test_short_sha_rejects_a_non_sha():
    with pytest.raises(InvalidCommitError, match="'main' is not a git commit SHA"):
        short_sha("main")
