"""ECR PutImage's errors as the ECR API Reference names them (PutImage, Errors), where the local
account answers for moto (shipline/local/ecr.py)."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from shipline.local.ecr import EcrEmulation, image_manifest
from shipline.local.model import ACCOUNT, REGION
from shipline.local.patches import Patches

REPOSITORY = "p-dev-svc"


def test_a_put_image_whose_digest_is_not_the_manifests_is_refused_with_ecrs_error():
    patches = Patches()
    with mock_aws():
        emulation = EcrEmulation(lambda *_: None, ACCOUNT, REGION)
        emulation.install(patches)
        try:
            ecr = boto3.client("ecr", region_name=REGION)
            ecr.create_repository(repositoryName=REPOSITORY)
            with pytest.raises(ClientError) as refused:
                ecr.put_image(repositoryName=REPOSITORY, imageManifest=image_manifest("sha256:" + "1" * 64),
                              imageTag="1279bbb", imageDigest="sha256:" + "2" * 64)
            assert refused.value.response["Error"]["Code"] == "ImageDigestDoesNotMatchException"
            assert ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] == []
        finally:
            patches.restore()
            emulation.close()
