"""ECR PutImage as the ECR API Reference has it (PutImage, its errors; CreateRepository's tag
mutability and its exclusion filters), where the local account answers for moto
(shipline/local/ecr.py)."""

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from shipline.local.ecr import EcrEmulation, image_manifest
from shipline.local.model import ACCOUNT, REGION
from tests.support.emulated import patched

REPOSITORY = "p-dev-svc"


@pytest.fixture
def ecr() -> Iterator:
    emulation = EcrEmulation(lambda *_: None, ACCOUNT, REGION)
    try:
        with patched(emulation.install):
            yield boto3.client("ecr", region_name=REGION)
    finally:
        emulation.close()


def test_a_put_image_whose_digest_is_not_the_manifests_is_refused_with_ecrs_error(ecr):
    ecr.create_repository(repositoryName=REPOSITORY)
    with pytest.raises(ClientError) as refused:
        ecr.put_image(repositoryName=REPOSITORY, imageManifest=image_manifest("sha256:" + "1" * 64),
                      imageTag="1279bbb", imageDigest="sha256:" + "2" * 64)
    assert refused.value.response["Error"]["Code"] == "ImageDigestDoesNotMatchException"
    assert ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] == []


@pytest.mark.parametrize(("mutability", "filters", "moves"), [
    ("MUTABLE", [], {"latest": True, "live-dev": True}),
    ("IMMUTABLE", [], {"latest": False, "live-dev": False}),
    ("IMMUTABLE_WITH_EXCLUSION", ["latest", "live-*"], {"latest": True, "live-dev": True, "1279bbb": False}),
    ("MUTABLE_WITH_EXCLUSION", ["live-*"], {"latest": True, "live-dev": False}),
])
def test_a_tag_moves_as_the_repositorys_mutability_and_its_exclusions_say(ecr, mutability, filters, moves):
    extra = {"imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": f} for f in filters]}
    ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability=mutability, **(extra if filters else {}))
    first, second = (image_manifest("sha256:" + n * 64) for n in "12")
    for tag, moved in moves.items():
        ecr.put_image(repositoryName=REPOSITORY, imageManifest=first, imageTag=tag)
        if moved:
            ecr.put_image(repositoryName=REPOSITORY, imageManifest=second, imageTag=tag)
        else:
            with pytest.raises(ClientError) as refused:
                ecr.put_image(repositoryName=REPOSITORY, imageManifest=second, imageTag=tag)
            assert refused.value.response["Error"]["Code"] == "ImageTagAlreadyExistsException"
        assert ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])["images"][0][
            "imageManifest"] == (second if moved else first)


@pytest.mark.parametrize(("mutability", "filters", "code"), [
    ("MUTABLE", [], "ImageAlreadyExistsException"),
    ("IMMUTABLE", [], "ImageTagAlreadyExistsException"),
    ("IMMUTABLE_WITH_EXCLUSION", ["live-*"], "ImageAlreadyExistsException"),
    ("MUTABLE_WITH_EXCLUSION", ["live-*"], "ImageTagAlreadyExistsException"),
])
def test_a_tag_put_again_on_its_own_digest_is_refused_by_the_tags_mutability(ecr, mutability, filters, code):
    """ECR User Guide, "Preventing image tags from being overwritten": an immutable tag the
    repository has is ImageTagAlreadyExistsException even on the digest that has it
    (aws/containers-roadmap#2179); a mutable one there is ImageAlreadyExistsException."""
    extra = {"imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": f} for f in filters]}
    ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability=mutability, **(extra if filters else {}))
    manifest = image_manifest("sha256:" + "1" * 64)
    ecr.put_image(repositoryName=REPOSITORY, imageManifest=manifest, imageTag="live-dev")
    with pytest.raises(ClientError) as refused:
        ecr.put_image(repositoryName=REPOSITORY, imageManifest=manifest, imageTag="live-dev")
    assert refused.value.response["Error"]["Code"] == code


@pytest.mark.parametrize("mutability", ["MUTABLE", "IMMUTABLE"])
def test_the_adapter_reads_a_refused_tag_on_its_own_digest_as_already_tagged(ecr, mutability):
    """pipeline.adapters.ecr: the tag already on this digest is "already tagged" (nothing to do)
    whichever error ECR gives; on another digest of an immutable repository, "tags immutable"."""
    from pipeline.adapters.ecr import put_manifest, read_manifest, tag_image

    ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability=mutability)
    for n, tag in (("1", "live-dev"), ("2", "1279bbb")):
        ecr.put_image(repositoryName=REPOSITORY, imageManifest=image_manifest("sha256:" + n * 64), imageTag=tag)
    live = ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": "live-dev"}])["imageDetails"][0]
    other = ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": "1279bbb"}])["imageDetails"][0]
    assert tag_image(REPOSITORY, live["imageDigest"], "live-dev", ecr=ecr) == "already tagged"
    assert put_manifest(REPOSITORY, read_manifest(REPOSITORY, live["imageDigest"], ecr=ecr), "live-dev",
                        ecr=ecr) == "already there"
    moved = tag_image(REPOSITORY, other["imageDigest"], "live-dev", ecr=ecr)
    assert moved == ("tagged" if mutability == "MUTABLE" else "tags immutable")
