"""Builds log in to Docker Hub when the stack names a secret with a Docker Hub user and token
(DockerHubSecretArn), so their pulls from Docker Hub (the buildx builder, the Dockerfile
frontend, base images) are not anonymous ones, which Docker Hub limits per address. CodeBuild
resolves the SECRETS_MANAGER variables when the build starts; the docker stand-in takes only the
user and token the local account was given for Docker Hub."""

import subprocess

from tests.support.events import load_event
from tests.support.paths import ROOT

HUB = ("shipline-builds", "dckr_pat_example")


def _build(account) -> dict:
    request = load_event("build-requested")
    request["detail"]["commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True,
                                                 capture_output=True, text=True).stdout.strip()
    account.put_event(request)
    account.run()
    (build,) = account.report()["builds"]
    return build


def _variables(account) -> dict:
    project = account.client("codebuild").batch_get_projects(names=[account.stack.refs["BuildProject"]])
    return {v["name"]: v for v in project["projects"][0]["environment"]["environmentVariables"]}


def test_a_build_logs_in_to_docker_hub_with_the_secrets_user_and_token(local_account):
    account = local_account(docker_hub=HUB)
    arn = account.parameters["DockerHubSecretArn"]
    variables = _variables(account)
    assert variables["DOCKERHUB_TOKEN"] == {"name": "DOCKERHUB_TOKEN", "value": f"{arn}:token",
                                            "type": "SECRETS_MANAGER"}  # a reference, never the token
    assert _build(account)["status"] == "SUCCEEDED"


def test_a_wrong_token_fails_the_build_before_it_builds(local_account):
    account = local_account(docker_hub=HUB)
    account.client("secretsmanager").put_secret_value(
        SecretId=account.parameters["DockerHubSecretArn"],
        SecretString='{"username": "shipline-builds", "token": "revoked"}')
    build = _build(account)
    assert build["status"] == "FAILED" and "build-image.sh login" in build["reason"]
    assert "unauthorized: incorrect username or password" in "\n".join(build["logTail"])


def test_a_secret_without_a_token_key_fails_the_build_in_download_source(local_account):
    account = local_account(docker_hub=HUB)
    account.client("secretsmanager").put_secret_value(SecretId=account.parameters["DockerHubSecretArn"],
                                                      SecretString='{"username": "shipline-builds"}')
    build = _build(account)
    assert build["status"] == "FAILED" and "Secrets Manager Error" in build["reason"], build


def test_without_the_secret_builds_pull_anonymously_and_the_project_names_no_credentials(local_account):
    account = local_account()
    assert not {"DOCKERHUB_USERNAME", "DOCKERHUB_TOKEN"} & set(_variables(account))
    assert _build(account)["status"] == "SUCCEEDED"


def _secret_grants(account) -> list[dict]:
    policies = account.model.properties("BuildRole").get("Policies", [])
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]
            if "secretsmanager:GetSecretValue" in str(statement.get("Action"))]


def test_the_build_role_may_read_the_docker_hub_secret_and_no_other(local_account):
    account = local_account(docker_hub=HUB)
    (grant,) = _secret_grants(account)
    assert grant["Resource"] == account.parameters["DockerHubSecretArn"] + "*"  # with or without its suffix
    assert _secret_grants(local_account()) == []
