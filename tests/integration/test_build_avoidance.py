"""Build avoidance on moto: the planner and the build starter with a CodeCommit history whose
files are known, and the stand-in base-image registry. A build's push is played by putting
the image it would have pushed (its tags, and inputs-<hash>) into the emulated ECR."""

import boto3
import pytest

from pipeline.domain.inputs import inputs_tag
from tests.integration.conftest import AFTER, BEFORE
from tests.support.events import load_event
from tests.support.sources import source_files

SERVICES = ["aws-agent-core", "langgraph", "snowflake-cortex", "langfuse"]
LANGFUSE_BASE = "registry-1.docker.io/langfuse/langfuse:2.95.11"
CHANGED = "c" * 40  # a commit changing langgraph's code
REVERTED = "d" * 40  # the commit reverting it
CODE = "workload/langgraph/__init__.py"


@pytest.fixture
def history(codecommit_history):
    """The sample repository's history, with this repository's build sources as its files."""
    files = source_files()
    codecommit_history.files[AFTER] = files
    codecommit_history.files[CHANGED] = {**files, CODE: files.get(CODE, "") + "# changed\n"}
    codecommit_history.files[REVERTED] = dict(files)
    codecommit_history.diffs |= {(AFTER, CHANGED): [CODE], (CHANGED, REVERTED): [CODE]}
    codecommit_history.ancestors |= {CHANGED: {BEFORE, AFTER, CHANGED}, REVERTED: {BEFORE, AFTER, CHANGED, REVERTED}}
    return codecommit_history


def started(calls) -> list[dict]:
    return calls.of("codebuild", "StartBuild")


def overrides(params: dict) -> dict:
    return {v["name"]: v["value"] for v in params["environmentVariablesOverride"]}


def play_builds(emulation, calls, already: int = 0) -> None:
    """Each build started since the `already` first: the image it pushes, under every tag it gives."""
    for n, build in enumerate(started(calls)[already:]):
        given = overrides(build)
        repository = given["REPOSITORY_URI"].split("/", 1)[1]
        digest = f"sha256:{already + n:064x}"
        tags = given["IMAGE_TAGS"].split() + ([inputs_tag(given["INPUTS_HASH"])] if given.get("INPUTS_HASH") else [])
        for tag in tags:
            boto3.client("ecr").batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": tag}])
            emulation.ecr.seed_image(repository, digest, tag)


def nightly(night: str) -> dict:
    event = load_event("schedule-nightly")
    event["id"] = night
    return event


def push(after: str, before: str) -> dict:
    event = load_event("codecommit-push")
    event["id"] = f"push-{after[:7]}"
    event["detail"] |= {"commitId": after, "oldCommitId": before}
    return event


def tags_of(repository: str) -> dict[str, list[str]]:
    images = boto3.client("ecr").describe_images(repositoryName=repository)["imageDetails"]
    return {i["imageDigest"]: sorted(i.get("imageTags", [])) for i in images}


def test_a_build_carries_the_hash_of_its_inputs(pipeline, history, calls):
    from pipeline.domain.manifest import default_manifest
    from pipeline.flows.inputs import service_inputs

    pipeline(load_event("codecommit-push"))
    (build,) = started(calls)
    expected = service_inputs("multi-agent-orchestrator", default_manifest(), "langgraph", AFTER)
    assert overrides(build)["INPUTS_HASH"] == expected and len(expected) == 64


def test_a_second_nightly_run_on_an_unchanged_head_starts_no_build(pipeline, history, calls, emulation):
    first = pipeline(nightly("monday"))
    assert sorted(first["started"]) == sorted(SERVICES)
    play_builds(emulation, calls)
    for night in ("tuesday", "wednesday"):
        again = pipeline(nightly(night))
        assert again["started"] == [] and sorted(again["alreadyBuilt"]) == sorted(SERVICES), night
    assert len(started(calls)) == len(SERVICES)
    assert calls.of("ecr", "PutImage") == []  # nothing moved


def test_a_nightly_run_builds_a_commit_whose_push_was_missed(pipeline, history, calls, emulation):
    pipeline(nightly("monday"))
    play_builds(emulation, calls)
    history.heads["main"] = CHANGED  # pushed, but its event never arrived
    result = pipeline(nightly("tuesday"))
    assert result["started"] == ["langgraph"]  # the others' inputs are unchanged: reused, not built
    assert sorted(s for s in SERVICES if s != "langgraph") == sorted(
        {p["repositoryName"].rsplit("-dev-", 1)[1] for p in calls.of("ecr", "PutImage")})


def test_a_revert_retags_instead_of_building(pipeline, history, calls, emulation, stack):
    pipeline(load_event("codecommit-push"))
    play_builds(emulation, calls)
    pipeline(push(CHANGED, AFTER))
    play_builds(emulation, calls, already=1)
    assert [overrides(b)["SERVICE"] for b in started(calls)] == ["langgraph", "langgraph"]
    result = pipeline(push(REVERTED, CHANGED))
    assert len(started(calls)) == 2  # no build for the revert
    assert result["outcome"] != "started"
    first_digest = f"sha256:{0:064x}"
    tags = tags_of("multi-agent-orchestrator-dev-langgraph")
    assert REVERTED[:7] in tags[first_digest] and "latest" in tags[first_digest]
    assert "latest" not in tags[f"sha256:{1:064x}"]  # the reverted commit's image lost latest, nothing else
    assert [p["imageTag"] for p in calls.of("ecr", "PutImage")] == ["latest", REVERTED[:7]]
    item = boto3.client("dynamodb").get_item(TableName=stack.refs["LedgerTable"], Key={
        "pk": {"S": "multi-agent-orchestrator#dev#langgraph"}, "sk": {"S": f"commit#{REVERTED[:7]}"}})["Item"]
    assert item["lastStatus"]["S"] == "REUSED" and item["reusedDigest"]["S"] == first_digest
    # `shipline status` says so: the last build is no build, the reverted commit's reuse.
    from pipeline.domain.manifest import load_manifest
    from shipline.cli import statuses
    from tests.support.paths import MANIFEST
    (langgraph,) = [s for s in statuses(stack.refs["LedgerTable"], load_manifest(MANIFEST), "dev")
                    if s.service == "langgraph"]
    assert (langgraph.build, langgraph.build_commit) == ("REUSED", REVERTED[:7])


def test_a_moved_base_tag_builds(pipeline, history, calls, emulation):
    pipeline(nightly("monday"))
    play_builds(emulation, calls)
    emulation.registry.move(LANGFUSE_BASE)  # upstream released another image under the same tag
    result = pipeline(nightly("tuesday"))
    assert result["started"] == ["langfuse"]
    rebuilt = overrides(started(calls)[-1])
    assert rebuilt["IMAGE_TAGS"] == f"{AFTER[:7]}-b2 latest"  # a rebuild's own tag: the first image keeps its own
    assert LANGFUSE_BASE in emulation.registry.lookups


def test_the_night_after_a_moved_base_tag_builds_and_retags_nothing(pipeline, history, calls, emulation):
    """The rebuild's image (`<sha>-b2`) has the head's inputs now: it is that commit's image, not
    one to tag again as `-b3`, `-b4` ... each night."""
    pipeline(nightly("monday"))
    play_builds(emulation, calls)
    emulation.registry.move(LANGFUSE_BASE)
    pipeline(nightly("tuesday"))
    play_builds(emulation, calls, already=len(SERVICES))
    calls.made.clear()
    result = pipeline(nightly("wednesday"))
    assert result["started"] == [] and sorted(result["alreadyBuilt"]) == sorted(SERVICES)
    assert calls.of("ecr", "PutImage") == []
    assert not any(t.endswith("-b3") for ts in tags_of("multi-agent-orchestrator-dev-langfuse").values() for t in ts)


def test_a_base_image_the_registry_cannot_name_is_built_each_night_as_before(pipeline, history, calls, emulation):
    del emulation.registry.tags[LANGFUSE_BASE]  # the registry answers 404: the inputs are unknown
    pipeline(nightly("monday"))
    play_builds(emulation, calls)
    again = pipeline(nightly("tuesday"))
    assert again["started"] == ["langfuse"]
    assert "INPUTS_HASH" not in overrides(started(calls)[-1])


def test_the_registry_lookup_follows_the_bearer_token_challenge(emulation):
    from pipeline.adapters.registry import tag_digest

    assert tag_digest("langfuse/langfuse:2.95.11") == emulation.registry.tags[LANGFUSE_BASE]
    moved = emulation.registry.move(LANGFUSE_BASE)
    assert tag_digest("langfuse/langfuse:2.95.11") == moved


def test_the_emulated_folder_listing_names_git_object_ids(emulation):
    """MemoryHistory's tree and blob ids are git's: the same files give the ids `git rev-parse` does."""
    import subprocess

    from shipline.local.codecommit import MemoryHistory
    from tests.support.paths import ROOT

    history = MemoryHistory(files={AFTER: source_files()})
    _tree, entries = history.folder(AFTER, "workload")
    listed = {e.name: e.object_id for e in entries}
    for name in ("common", "langgraph"):
        expected = subprocess.run(["git", "-C", str(ROOT), "rev-parse", f"HEAD:workload/{name}"], capture_output=True,
                                  text=True, check=True).stdout.strip()
        assert listed[name] == expected
