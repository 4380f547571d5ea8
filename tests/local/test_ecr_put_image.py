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
