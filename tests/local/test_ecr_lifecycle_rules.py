"""ECR PutLifecyclePolicy's rules (ECR User Guide, "Lifecycle policy properties in Amazon ECR"),
which moto does not check, as the local account answers them (shipline/local/ecr_rules.py); the
policy the build starter puts on every repository keeps to them."""

import copy
import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.ecr.responses import ECRResponse

from pipeline.domain.repositories import RepositorySpec
from shipline.local import ecr_rules
from shipline.local.patches import Patches
from tests.support.emulated import patched

REPOSITORY = "p-dev-svc"
UNTAGGED = {"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                              "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}}
TAGGED = {"rulePriority": 2, "selection": {"tagStatus": "tagged", "tagPatternList": ["*"],
                                            "countType": "imageCountMoreThan", "countNumber": 30},
          "action": {"type": "expire"}}


@pytest.fixture
def ecr() -> Iterator:
    with patched(ecr_rules.install):
        client = boto3.client("ecr")
        client.create_repository(repositoryName=REPOSITORY)
        yield client


def rule(base: dict, **selection) -> dict:
    """`base` with its selection changed; a None removes the field."""
    changed = copy.deepcopy(base)
    changed["selection"] = {k: v for k, v in {**changed["selection"], **selection}.items() if v is not None}
    return changed


@pytest.mark.parametrize(("rules", "problem"), [
    ([rule(TAGGED, tagPatternList=None)], "a tagged rule takes one of tagPrefixList and tagPatternList"),
    ([rule(TAGGED, tagPrefixList=["v"])], "a tagged rule takes one of tagPrefixList and tagPatternList"),
    ([rule(UNTAGGED, tagPrefixList=["v"])], "tagPrefixList is only for tagStatus tagged"),
    ([UNTAGGED, {**UNTAGGED, "selection": dict(UNTAGGED["selection"])}], "rulePriority must be unique"),
    ([rule(UNTAGGED, tagStatus="any"), TAGGED], "must have the highest rulePriority"),
    ([rule(UNTAGGED, countUnit=None)], "sinceImagePushed takes countUnit days"),
    ([rule(TAGGED, countUnit="days")], "countUnit is not for imageCountMoreThan"),
    ([rule(TAGGED, countNumber=0)], "countNumber must be a positive integer"),
    ([rule(TAGGED, tagPatternList=["*a*b*c*d*"])], "at most four wildcards"),
])
def test_a_lifecycle_policy_ecr_refuses_is_refused(ecr, rules, problem):
    with pytest.raises(ClientError) as refused:
        ecr.put_lifecycle_policy(repositoryName=REPOSITORY, lifecyclePolicyText=json.dumps({"rules": rules}))
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert "Lifecycle policy validation failure" in error["Message"] and problem in error["Message"]
    with pytest.raises(ClientError):
        ecr.get_lifecycle_policy(repositoryName=REPOSITORY)


def test_the_build_starters_lifecycle_policy_is_taken(ecr):
    spec = RepositorySpec(name=REPOSITORY, project="p", environment="dev", service="svc")
    ecr.put_lifecycle_policy(repositoryName=REPOSITORY, lifecyclePolicyText=spec.lifecycle_policy_text())
    assert json.loads(ecr.get_lifecycle_policy(repositoryName=REPOSITORY)["lifecyclePolicyText"]) == \
        spec.lifecycle_policy()


def test_the_rule_is_undone():
    before = ECRResponse.__dict__["put_lifecycle_policy"]
    patches = Patches()
    ecr_rules.install(patches)
    assert ECRResponse.__dict__["put_lifecycle_policy"] is not before
    patches.restore()
    assert ECRResponse.__dict__["put_lifecycle_policy"] is before
