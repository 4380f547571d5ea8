"""Promotion by digest, against moto with two stacks from template.yaml (dev and staging) in one
account: `shipline promote` copies the image dev registered into staging's repository (its blobs
through ECR's layer API, then PutImage of the same manifest), and the ECR events that copy
produces, routed by the template's own rule patterns, make staging's ImageEventsFunction
register the same digest. Nothing is built."""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import boto3
import pytest
from moto.events.models import EventPattern

from pipeline.adapters import clients, ledger
from pipeline.domain.manifest import DEFAULT_MANIFEST_PATH
from pipeline.domain.status import partition
from pipeline.flows import idempotency
from pipeline.handlers import image_events
from pipeline.settings import get_settings
from shipline.cli import main
from shipline.local.ecr import image_manifest, manifest_digest
from shipline.local.model import TemplateModel
from shipline.local.resources import Provisioner
from shipline.local.standins.docker import _upload_blobs
from tests.support.events import LOCAL_WEBHOOK_SECRET

PROJECT = "multi-agent-orchestrator"
SERVICE = "langgraph"
DEV_REPO, STAGING_REPO = f"{PROJECT}-dev-{SERVICE}", f"{PROJECT}-staging-{SERVICE}"
SHA = "3b6258b"


def _register(model: TemplateModel) -> None:
    """The stack in CloudFormation with its resolved Outputs, as the local account registers it."""
    template = {"Resources": {"Stack": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": {key: {"Value": value} for key, value in model.outputs().items()}}
    boto3.client("cloudformation").create_stack(StackName=model.stack_name, TemplateBody=json.dumps(template))


class Chain:
    """Both stacks' ImageEventsFunction, fed what ECR emits, each event to the stacks whose
    template rules match it (moto's EventBridge pattern matching)."""

    def __init__(self, stacks: dict, emulation, monkeypatch, context) -> None:
        self.stacks, self.emulation, self.monkeypatch, self.context = stacks, emulation, monkeypatch, context
        self.results: list[tuple[str, dict, dict]] = []

    def run(self) -> list[tuple[str, dict, dict]]:
        ran = []
        while self.emulation.outbox.pending():
            for event in self.emulation.outbox.due():
                for environment, (model, provisioned) in self.stacks.items():
                    patterns = model.event_patterns("ImageEventsFunction").values()
                    if any(EventPattern.load(json.dumps(p)).matches_event(event) for p in patterns):
                        ran.append((environment, event, self._invoke(provisioned, event)))
            time.sleep(0.02)  # a scan result is due a moment after its push
        self.results += ran
        return ran

    def _invoke(self, provisioned, event: dict) -> dict:
        function = provisioned.functions["ImageEventsFunction"]
        for key, value in {**function.environment, "AWS_LAMBDA_FUNCTION_NAME": function.name}.items():
            self.monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        idempotency.reset()
        return image_events.handler({"id": f"e-{len(self.results)}-{time.monotonic_ns()}", "time":
                                     "2026-11-26T10:00:00Z", **event}, self.context)


@pytest.fixture
def staging_parameters() -> dict[str, str]:
    return {}


@pytest.fixture
def chain(stack, emulation, calls, monkeypatch, lambda_context, staging_parameters):
    staging = TemplateModel(parameters={"Environment": "staging", "RegistrationGate": "scan", **staging_parameters})
    provisioned = Provisioner(boto3.client, LOCAL_WEBHOOK_SECRET.decode()).create_all(staging)
    _register(stack.model)
    _register(staging)
    ecr = boto3.client("ecr")
    for name in (DEV_REPO, STAGING_REPO):  # as each stack's build starter makes them
        ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    calls.made.clear()
    return Chain({"dev": (stack.model, stack.provisioned), "staging": (staging, provisioned)}, emulation,
                 monkeypatch, lambda_context)


def build_push(repository: str = DEV_REPO, tag: str = SHA, content: bytes = b"langgraph layer") -> str:
    """What a build pushes: its blobs through the layer API, then the manifest under the tag."""
    config = json.dumps({"architecture": "arm64", "os": "linux", "rootfs": {"diff_ids": []}}).encode()
    config_digest, layer_digest = (f"sha256:{hashlib.sha256(b).hexdigest()}" for b in (config, content))
    ecr = boto3.client("ecr")
    _upload_blobs(ecr, repository, {config_digest: config, layer_digest: content})
    manifest = image_manifest(config_digest, (layer_digest,), size=len(config))
    ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
    return manifest_digest(manifest)


def registered_in_dev(chain: Chain) -> str:
    digest = build_push()
    chain.run()
    current = ledger.read_current(_table("dev"), partition(PROJECT, "dev", SERVICE))
    assert current is not None and current.digest == digest
    return digest


def _table(environment: str) -> str:
    outputs = boto3.client("cloudformation").describe_stacks(StackName=f"shipline-{environment}")["Stacks"][0]
    return next(o["OutputValue"] for o in outputs["Outputs"] if o["OutputKey"] == "LedgerTableName")


def staging_images() -> list[dict]:
    return boto3.client("ecr").describe_images(repositoryName=STAGING_REPO)["imageDetails"]


def as_someone_else(monkeypatch) -> str:
    """Credentials of another identity (an assumed role), for the CLI that follows."""
    iam, sts = boto3.client("iam"), boto3.client("sts")
    role = iam.create_role(RoleName="release-manager", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="alice")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    clients.reset()
    clients._session.cache_clear()  # the process's session holds the credentials it resolved first
    return str(boto3.session.Session().client("sts").get_caller_identity()["Arn"])


def test_promotion_registers_the_same_digest_in_staging_without_a_build(chain, calls, capsys):
    digest = registered_in_dev(chain)
    calls.made.clear()

    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    assert "promoted" in capsys.readouterr().out
    ran = chain.run()

    # Only staging's rules take the copy's events: its push (the commit tag), its scan-on-push
    # result, which staging's gate (scan) registers on, then its own live-staging tag.
    assert [(e, event["detail-type"], event["detail"].get("image-tag")) for e, event, _ in ran] == [
        ("staging", "ECR Image Action", SHA), ("staging", "ECR Image Scan", None),
        ("staging", "ECR Image Action", "live-staging")]
    assert [result["outcome"] for _, _, result in ran[:2]] == ["waiting for scan", "registered"]
    current = ledger.read_current(_table("staging"), partition(PROJECT, "staging", SERVICE))
    assert current is not None and current.digest == digest and current.tag == SHA
    revision = boto3.client("ecs").describe_task_definition(taskDefinition=STAGING_REPO)["taskDefinition"]
    assert revision["containerDefinitions"][0]["image"].endswith(f"/{STAGING_REPO}@{digest}")
    assert calls.of("codebuild", "StartBuild") == []
    assert [p["imageDigest"] for p in calls.of("ecr", "PutImage") if p["repositoryName"] == STAGING_REPO][0] == digest
    assert len(calls.of("ecr", "GetDownloadUrlForLayer")) == 2  # the config and the layer staging lacked
    promotion = ledger.read_promotion(_table("staging"), partition(PROJECT, "staging", SERVICE), digest)
    assert promotion is not None and promotion.state == "copied" and promotion.approved_by == "(no approval required)"


def test_the_target_repository_refuses_the_manifest_without_its_blobs(chain):
    """Why the copy uploads blobs: another repository does not hold them (ECR's PutImage answers
    LayersNotFoundException), so BatchGetImage + PutImage alone is not a promotion."""
    digest = registered_in_dev(chain)
    ecr = boto3.client("ecr")
    image = ecr.batch_get_image(repositoryName=DEV_REPO, imageIds=[{"imageDigest": digest}])["images"][0]
    with pytest.raises(ecr.exceptions.ClientError) as refused:
        ecr.put_image(repositoryName=STAGING_REPO, imageManifest=image["imageManifest"], imageTag=SHA)
    assert refused.value.response["Error"]["Code"] == "LayersNotFoundException"


def test_promoting_the_same_digest_again_copies_nothing_more(chain, calls, capsys):
    registered_in_dev(chain)
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    chain.run()
    calls.made.clear()
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    assert "already promoted" in capsys.readouterr().out
    assert calls.of("ecr", "PutImage") == [] and chain.run() == []


@pytest.mark.parametrize("staging_parameters", [{"PromotionApproval": "required"}])
def test_promotion_into_an_approval_environment_waits_for_approval_and_records_the_approver(
        chain, calls, capsys, monkeypatch):
    digest = registered_in_dev(chain)
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    assert "waiting for approval" in capsys.readouterr().out
    assert staging_images() == [] and chain.run() == []
    pk = partition(PROJECT, "staging", SERVICE)
    pending = ledger.read_promotion(_table("staging"), pk, digest)
    assert pending is not None and pending.state == "pending" and pending.requested_by.endswith(":user/moto")

    # The requester cannot approve their own promotion (PromotionSelfApproval=false).
    assert main(["approve", "--service", SERVICE, "--environment", "staging"]) == 2
    assert "cannot approve it too" in capsys.readouterr().err
    assert staging_images() == []

    approver = as_someone_else(monkeypatch)
    calls.made.clear()
    assert main(["approve", "--service", SERVICE, "--environment", "staging"]) == 0
    assert "approved and copied" in capsys.readouterr().out
    done = ledger.read_promotion(_table("staging"), pk, digest)
    assert done is not None and done.state == "copied" and done.approved_by == approver
    assert "assumed-role/release-manager/alice" in approver and done.approved_at
    assert "registered" in [result["outcome"] for _, _, result in chain.run()]
    current = ledger.read_current(_table("staging"), pk)
    assert current is not None and current.digest == digest

    # Approving again copies nothing.
    assert main(["approve", "--service", SERVICE, "--environment", "staging", "--digest", digest]) == 0
    assert "already promoted" in capsys.readouterr().out
    copies = [p for p in calls.of("ecr", "PutImage") if p["repositoryName"] == STAGING_REPO and p["imageTag"] == SHA]
    assert len(copies) == 1
    assert calls.of("codebuild", "StartBuild") == []


@pytest.mark.parametrize("staging_parameters", [{"PromotionApproval": "required", "PromotionSelfApproval": "true"}])
def test_concurrent_approvals_copy_once(chain, calls, monkeypatch):
    """Two approvers read the promotion pending; the conditional write lets the first through,
    the second copies nothing and says it was approved."""
    from pipeline.flows import promotion
    from shipline import promotion as cli_promotion

    digest = registered_in_dev(chain)
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    pk = partition(PROJECT, "staging", SERVICE)
    stale = ledger.promotions(_table("staging"), pk)  # what the second approver read, before the first wrote

    args = argparse.Namespace(manifest=DEFAULT_MANIFEST_PATH, endpoint_url=None, service=SERVICE, from_stack=None,
                              to_stack=None, role_arn=None)
    manifest, outputs = cli_promotion._target(args, "staging")
    ends, _ = cli_promotion._ends(args, manifest, outputs, "dev", "staging")
    calls.made.clear()
    first = promotion.approve(ends, digest=None, approver="arn:aws:iam::123456789012:user/first")
    monkeypatch.setattr(ledger, "promotions", lambda table, key: stale)
    second = promotion.approve(ends, digest=None, approver="arn:aws:iam::123456789012:user/second")

    assert first[0] == "copied" and second[0] == "already copied"
    assert second[1].approved_by.endswith("user/first")
    tries = [p for p in calls.of("dynamodb", "UpdateItem") if ":pending" in p.get("ExpressionAttributeValues", {})]
    assert [p["ExpressionAttributeValues"][":by"]["S"].rsplit("/", 1)[1] for p in tries] == ["first", "second"]
    assert len([p for p in calls.of("ecr", "PutImage") if p["repositoryName"] == STAGING_REPO]) == 1
    record = ledger.read_promotion(_table("staging"), pk, digest)
    assert record is not None and record.state == "copied" and record.approved_by.endswith("user/first")


def _nothing_done(calls) -> None:
    assert staging_images() == []
    assert ledger.promotions(_table("staging"), partition(PROJECT, "staging", SERVICE)) == []
    assert calls.of("ecr", "PutImage") == [] and calls.of("dynamodb", "UpdateItem") == []


@pytest.mark.parametrize("arguments, message", [
    (["--service", "nope", "--from", "dev", "--to", "staging"], "nope"),
    (["--service", SERVICE, "--from", "staging", "--to", "staging"], "both staging"),
    (["--service", SERVICE, "--from", "dev", "--to", "staging", "--digest", "sha256:" + "0" * 64],
     f"{DEV_REPO} has no image sha256:{'0' * 64}"),
    (["--service", SERVICE, "--from", "dev", "--to", "staging", "--digest", "latest"], "is not an image digest"),
])
def test_bad_promotions_are_one_line_and_exit_2_with_nothing_done(chain, calls, capsys, arguments, message):
    registered_in_dev(chain)
    calls.made.clear()
    assert main(["promote", *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("shipline: error:")
    _nothing_done(calls)


def test_a_service_with_no_registered_image_is_refused(chain, calls, capsys):
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 2
    err = capsys.readouterr().err
    assert "has no registered image in dev" in err and err.count("\n") == 1
    _nothing_done(calls)


def test_a_missing_target_repository_says_how_to_create_it(chain, calls, capsys):
    registered_in_dev(chain)
    boto3.client("ecr").delete_repository(repositoryName=STAGING_REPO)
    calls.made.clear()
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 2
    assert "shipline trigger --environment staging --service langgraph" in capsys.readouterr().err
    assert calls.of("ecr", "PutImage") == [] and calls.of("dynamodb", "UpdateItem") == []


def test_approve_with_nothing_pending_is_refused(chain, capsys):
    assert main(["approve", "--service", SERVICE, "--environment", "staging"]) == 2
    assert "no promotion of langgraph into staging waits for approval" in capsys.readouterr().err


COPY_CALLS = [("ecr", "BatchCheckLayerAvailability"), ("ecr", "GetDownloadUrlForLayer"),
              ("ecr", "InitiateLayerUpload"), ("ecr", "UploadLayerPart"), ("ecr", "CompleteLayerUpload"),
              ("ecr", "PutImage"), ("ecr", "BatchGetImage"), ("dynamodb", "UpdateItem")]


def _copies_in_staging() -> list[dict]:
    return [i for i in staging_images() if SHA in i.get("imageTags", [])]


@pytest.mark.parametrize("service, operation", COPY_CALLS)
def test_a_throttled_copy_call_is_retried_and_copies_once(chain, faults, capsys, service, operation):
    digest = registered_in_dev(chain)
    fault = faults.inject(service, operation, "throttling", times=2)
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    assert fault.hits == 2
    assert [i["imageDigest"] for i in _copies_in_staging()] == [digest]


@pytest.mark.parametrize("service, operation", COPY_CALLS)
def test_a_denied_copy_call_fails_in_one_line_and_promote_again_finishes_it_once(chain, faults, calls, capsys,
                                                                                service, operation):
    digest = registered_in_dev(chain)
    faults.inject(service, operation, "access-denied", times=-1)
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 2
    err = capsys.readouterr().err
    assert "AccessDenied" in err and err.count("\n") == 1
    assert _copies_in_staging() == []
    faults.clear()
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    assert [i["imageDigest"] for i in _copies_in_staging()] == [digest]
    record = ledger.read_promotion(_table("staging"), partition(PROJECT, "staging", SERVICE), digest)
    assert record is not None and record.state == "copied"
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    assert "already promoted" in capsys.readouterr().out


def test_role_arn_reads_the_source_side_through_the_assumed_role(chain, calls, capsys):
    """Across accounts: the source's stack, ledger and images through sts:AssumeRole of the role
    given (here in the same emulated account), and the promotion names the source account."""
    digest = registered_in_dev(chain)
    role = boto3.client("iam").create_role(RoleName="shipline-promotion-source",
                                           AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    calls.made.clear()
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging", "--role-arn", role]) == 0
    assert [p["RoleArn"] for p in calls.of("sts", "AssumeRole")] == [role]
    record = ledger.read_promotion(_table("staging"), partition(PROJECT, "staging", SERVICE), digest)
    assert record is not None and record.state == "copied" and record.source_registry == "123456789012"


@pytest.mark.parametrize("staging_parameters", [{"PromotionApproval": "required"}])
def test_an_approval_that_cannot_copy_records_no_approval(chain, calls, capsys, monkeypatch):
    """The commit tag went to another image in staging while the promotion waited: approve says
    so and leaves the promotion pending."""
    digest = registered_in_dev(chain)
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    other = build_push(STAGING_REPO, SHA, b"staging's own build of the commit")
    as_someone_else(monkeypatch)
    assert main(["approve", "--service", SERVICE, "--environment", "staging"]) == 2
    assert f"already has tag {SHA} on another image" in capsys.readouterr().err
    record = ledger.read_promotion(_table("staging"), partition(PROJECT, "staging", SERVICE), digest)
    assert record is not None and record.state == "pending" and record.approved_by == ""
    assert [i["imageDigest"] for i in _copies_in_staging()] == [other]


def test_an_immutable_target_repository_takes_the_promotion_and_keeps_its_tags(chain, capsys):
    """IMMUTABLE tags: the commit tag is free in the target, so the copy goes in; moving it
    afterwards is ECR's ImageTagAlreadyExistsException."""
    digest = registered_in_dev(chain)
    ecr = boto3.client("ecr")
    ecr.put_image_tag_mutability(repositoryName=STAGING_REPO, imageTagMutability="IMMUTABLE")
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0
    assert [i["imageDigest"] for i in _copies_in_staging()] == [digest]
    other = build_push(STAGING_REPO, "abcdef1", b"another build")
    manifest = ecr.batch_get_image(repositoryName=STAGING_REPO, imageIds=[{"imageDigest": other}])["images"][0]
    with pytest.raises(ecr.exceptions.ClientError) as refused:
        ecr.put_image(repositoryName=STAGING_REPO, imageManifest=manifest["imageManifest"], imageTag=SHA)
    assert refused.value.response["Error"]["Code"] == "ImageTagAlreadyExistsException"


def test_promote_again_after_an_interrupted_copy_into_an_immutable_repository_finishes_it(chain, faults, capsys):
    """The copy went in, the ledger's note of it did not: promoting again finds the commit tag on
    the copied digest (ECR refuses it with ImageTagAlreadyExistsException in an IMMUTABLE
    repository, not ImageAlreadyExistsException) and finishes, without a second copy."""
    digest = registered_in_dev(chain)
    boto3.client("ecr").put_image_tag_mutability(repositoryName=STAGING_REPO, imageTagMutability="IMMUTABLE")
    faults.inject("dynamodb", "UpdateItem", "access-denied", times=-1, containing="copied")
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 2
    assert [i["imageDigest"] for i in _copies_in_staging()] == [digest]  # the copy went in
    faults.clear()
    capsys.readouterr()
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging"]) == 0, capsys.readouterr().err
    record = ledger.read_promotion(_table("staging"), partition(PROJECT, "staging", SERVICE), digest)
    assert record is not None and record.state == "copied"
    assert [i["imageDigest"] for i in _copies_in_staging()] == [digest]


@pytest.mark.parametrize("staging_parameters", [{"PromotionApproval": "required"}])
@pytest.mark.parametrize(("flag", "other", "named"), [("--to-stack", "shipline-dev", "dev's, not staging's"),
                                                      ("--from-stack", "shipline-staging", "staging's, not dev's")])
def test_a_stack_of_another_environment_is_refused_before_anything_is_copied(chain, calls, capsys, flag, other,
                                                                             named):
    """--to-stack naming dev's stack would lend staging dev's approval policy (none) and ledger:
    the copy would go into staging's repository unapproved and unrecorded there. The stack's
    Environment output must be the environment the command names."""
    registered_in_dev(chain)
    calls.made.clear()
    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging", flag, other]) == 2
    err = capsys.readouterr().err
    assert f"stack {other} is {named}" in err and err.count("\n") == 1
    assert _copies_in_staging() == []
    _nothing_done(calls)


def test_a_multi_platform_index_is_copied_with_its_image_first(chain, calls, capsys):
    """An index names images, not blobs: its image goes in first (untagged), then the index
    under the commit tag; each keeps its digest (ECR's PutImage refuses an index whose images the
    repository lacks: ReferencedImagesNotFoundException)."""
    ecr = boto3.client("ecr")
    child = build_push(DEV_REPO, "arm64", b"arm64 layer")
    child_manifest = ecr.batch_get_image(repositoryName=DEV_REPO, imageIds=[{"imageDigest": child}])["images"][0]
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": child,
         "size": len(child_manifest["imageManifest"]), "platform": {"architecture": "arm64", "os": "linux"}}]})
    ecr.put_image(repositoryName=DEV_REPO, imageManifest=index, imageTag="abcdef2")
    with pytest.raises(ecr.exceptions.ClientError) as refused:
        ecr.put_image(repositoryName=STAGING_REPO, imageManifest=index, imageTag="abcdef2")
    assert refused.value.response["Error"]["Code"] == "ReferencedImagesNotFoundException"

    assert main(["promote", "--service", SERVICE, "--from", "dev", "--to", "staging",
                 "--digest", manifest_digest(index)]) == 0
    copied = {i["imageDigest"]: i.get("imageTags", []) for i in staging_images()}
    assert copied == {child: [], manifest_digest(index): ["abcdef2"]}
    puts = [(p.get("imageDigest"), p.get("imageTag")) for p in calls.of("ecr", "PutImage")
            if p["repositoryName"] == STAGING_REPO]
    assert puts[-2:] == [(child, None), (manifest_digest(index), "abcdef2")]
