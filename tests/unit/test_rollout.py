"""The rollout core: the deployment configuration each strategy asks ECS for, where a service
runs (the manifest's default and overrides), and the one message a deployment's end gives."""

import pytest

from pipeline.domain.manifest import ManifestError, parse_manifest
from pipeline.domain.notifications import deployment_notification
from pipeline.domain.rollout import (
    DeploymentRecord,
    RolloutPolicy,
    alarm_names,
    revision_of,
    service_arn_parts,
)

BREAKER = {"enable": True, "rollback": True}


def test_none_rolls_nothing_out():
    assert not RolloutPolicy().enabled
    with pytest.raises(ValueError, match="Rollout is none"):
        RolloutPolicy().deployment_configuration()


def test_rolling_asks_for_the_circuit_breaker_with_rollback_and_no_bake_time():
    assert RolloutPolicy("rolling").deployment_configuration() == {"deploymentCircuitBreaker": BREAKER,
                                                                    "strategy": "ROLLING"}


def test_blue_green_bakes():
    assert RolloutPolicy("blue-green", bake_minutes=15).deployment_configuration() == {
        "deploymentCircuitBreaker": BREAKER, "strategy": "BLUE_GREEN", "bakeTimeInMinutes": 15}


def test_canary_and_linear_carry_their_configuration():
    canary = RolloutPolicy("canary", canary_percent=10.0, step_minutes=3).deployment_configuration()
    assert canary["strategy"] == "CANARY"
    assert canary["canaryConfiguration"] == {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3}
    linear = RolloutPolicy("linear", linear_step_percent=25.0, step_minutes=4).deployment_configuration()
    assert linear["strategy"] == "LINEAR"
    assert linear["linearConfiguration"] == {"stepPercent": 25.0, "stepBakeTimeInMinutes": 4}
    assert "canaryConfiguration" not in linear and "linearConfiguration" not in canary


def test_alarms_roll_back_too():
    policy = RolloutPolicy("rolling", alarm_names=alarm_names(" p99 , errors,, "))
    assert policy.deployment_configuration()["alarms"] == {"alarmNames": ["p99", "errors"], "enable": True,
                                                           "rollback": True}


def test_revisions_and_service_arns_are_read():
    assert revision_of("arn:aws:ecs:us-east-1:1:task-definition/a-b_c:12") == ("a-b_c", 12)
    assert revision_of("fam:3") == ("fam", 3)
    assert revision_of("fam") is None
    assert service_arn_parts("arn:aws:ecs:us-east-1:1:service/cl/svc") == ("cl", "svc")
    assert service_arn_parts("arn:aws:ecs:us-east-1:1:service/svc-short-format") is None


MANIFEST = {"project": {"name": "proj"}, "services": {"web": {
    "dockerfile": "d/Dockerfile", "paths": ["d/"], "port": 80, "health_check": {"command": "true"}}}}


def test_a_service_runs_in_the_projects_cluster_by_default():
    where = parse_manifest(MANIFEST).service("web").ecs_service("proj", "staging")
    assert (where.cluster, where.name) == ("proj-staging", "proj-staging-web")


def test_the_manifest_may_name_the_cluster_and_service_per_environment():
    data = {**MANIFEST, "services": {"web": {**MANIFEST["services"]["web"], "environments": {
        "prod": {"cluster": "shared-prod", "ecs_service": "proj-prod-web-v2"}}}}}
    spec = parse_manifest(data).service("web")
    assert (spec.ecs_service("proj", "prod").cluster, spec.ecs_service("proj", "prod").name) == (
        "shared-prod", "proj-prod-web-v2")
    assert spec.ecs_service("proj", "dev").name == "proj-dev-web"
    assert spec.sizing("prod") == (512, 1024)  # naming where it runs changes nothing of its size


def test_a_service_name_outside_the_project_is_refused():
    data = {**MANIFEST, "services": {"web": {**MANIFEST["services"]["web"], "environments": {
        "prod": {"ecs_service": "someone-elses"}}}}}
    with pytest.raises(ManifestError, match="ecs_service: must start with proj-prod-"):
        parse_manifest(data)


def test_a_rolled_back_deployment_says_which_revision_runs():
    record = DeploymentRecord(deployment_id="ecs-svc/1", cluster="c", service_name="s", revision=8)
    note = deployment_notification(project="p", environment="dev", service="web", record=record,
                                   state="ROLLED_BACK", reason="ECS deployment circuit breaker: task failed to start.",
                                   running=7)
    assert note.subject == "[shipline] web in dev: revision 8 failed and was rolled back to revision 7"
    assert "Now running: p-dev-web:7" in note.text and "circuit breaker" in note.text
    assert "shipline rollback --service web" in note.text


def test_scheduled_tasks_outside_the_project_are_refused():
    data = {**MANIFEST, "services": {"web": {**MANIFEST["services"]["web"], "environments": {
        "dev": {"schedule_rules": ["proj-dev-web-nightly"], "schedules": ["nightly-cleanup"]}}}}}
    with pytest.raises(ManifestError, match="schedules: nightly-cleanup must start with proj-dev-"):
        parse_manifest(data)
    data["services"]["web"]["environments"]["dev"]["schedules"] = ["proj-dev-web-cleanup"]
    where = parse_manifest(data).service("web").ecs_service("proj", "dev")
    assert (where.schedule_rules, where.schedules) == (("proj-dev-web-nightly",), ("proj-dev-web-cleanup",))
