import json

from pipeline.domain.repositories import RepositorySpec, RepositoryState, drift

SPEC = RepositorySpec(name="p-dev-api", project="p", environment="dev", service="api",
                      untagged_expiry_days=7, keep_sha_images=30)


def _state(**changes) -> RepositoryState:
    base = dict(name="p-dev-api", scan_on_push=True, encryption="AES256",
                lifecycle_policy=SPEC.lifecycle_policy_text())
    return RepositoryState(**{**base, **changes})


def test_matching_repository_has_no_drift():
    assert drift(_state(), SPEC) == ()


def test_scan_on_push_off_is_drift():
    assert drift(_state(scan_on_push=False), SPEC) == ("scan_on_push",)


def test_missing_or_different_lifecycle_policy_is_drift():
    assert drift(_state(lifecycle_policy=None), SPEC) == ("lifecycle_policy",)
    other = json.dumps({"rules": []})
    assert drift(_state(lifecycle_policy=other), SPEC) == ("lifecycle_policy",)


def test_policy_formatting_differences_are_not_drift():
    pretty = json.dumps(SPEC.lifecycle_policy(), indent=2)
    assert drift(_state(lifecycle_policy=pretty), SPEC) == ()


def test_lifecycle_policy_keeps_live_images_expires_untagged_and_keeps_the_last_tagged():
    rules = sorted(SPEC.lifecycle_policy()["rules"], key=lambda r: r["rulePriority"])
    assert rules[0]["selection"]["tagPrefixList"] == ["live-"]
    assert rules[1]["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                     "countUnit": "days", "countNumber": 7}
    assert rules[2]["selection"]["countType"] == "imageCountMoreThan"
    assert rules[2]["selection"]["countNumber"] == 30


def test_a_tag_names_its_commit_whether_first_build_or_rebuild():
    from pipeline.domain.naming import commit_of_tag, is_live_tag, live_tag

    assert commit_of_tag("3b6258b") == commit_of_tag("3b6258b-b12") == "3b6258b"
    assert live_tag("prod") == "live-prod" and is_live_tag("live-prod") and not is_live_tag("latest")


def test_repository_is_tagged_with_project_environment_and_service():
    assert SPEC.resource_tags() == {"shipline:project": "p", "shipline:environment": "dev", "shipline:service": "api"}
