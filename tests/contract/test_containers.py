"""The manifest, the task-definition rendering and the Dockerfiles agree on each service's
port and health check; every Dockerfile passes hadolint."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.domain.manifest import load_manifest
from pipeline.domain.naming import Target
from pipeline.domain.task_definitions import Image, render_task_definition
from tests.support.paths import MANIFEST, ROOT

MANIFEST_DATA = load_manifest(MANIFEST)
TARGET = Target("multi-agent-orchestrator", "dev", "123456789012", "us-east-1")


def dockerfile_facts(text: str) -> dict:
    """EXPOSE port and the HEALTHCHECK's URL, from a Dockerfile's text."""
    joined = re.sub(r"\\\n\s*", " ", text)
    expose = re.findall(r"^EXPOSE\s+(\d+)", joined, re.MULTILINE)
    health = re.search(r"^HEALTHCHECK\b.*?(https?://[^'\"\s]+)", joined, re.MULTILINE)
    return {"ports": [int(p) for p in expose], "health_url": health.group(1) if health else None}


def agreement_problems(service: str, dockerfile_text: str) -> list[str]:
    spec = MANIFEST_DATA.services[service]
    rendered = render_task_definition(TARGET, spec, Image(TARGET.repository_uri(service), "sha256:" + "0" * 64),
                                      execution_role_arn="arn:aws:iam::123456789012:role/x")
    container = rendered["containerDefinitions"][0]
    facts = dockerfile_facts(dockerfile_text)
    problems = []
    if facts["ports"] != [spec.port]:
        problems.append(f"Dockerfile EXPOSE {facts['ports']} but the manifest says {spec.port}")
    if container["portMappings"] != [{"containerPort": spec.port, "protocol": "tcp"}]:
        problems.append(f"task definition maps {container['portMappings']}")
    url = facts["health_url"]
    if not url or f":{spec.port}/" not in url:
        problems.append(f"Dockerfile HEALTHCHECK {url} is not on port {spec.port}")
    elif url not in container["healthCheck"]["command"][1]:
        problems.append(f"task definition health check {container['healthCheck']['command']} does not call {url}")
    return problems


@pytest.mark.parametrize("service", MANIFEST_DATA.names)
def test_manifest_rendering_and_dockerfile_agree_on_port_and_health_check(service):
    text = (ROOT / MANIFEST_DATA.services[service].dockerfile).read_text()
    assert agreement_problems(service, text) == []


def test_agreement_check_catches_a_changed_exposed_port():
    text = (ROOT / "docker/langgraph/Dockerfile").read_text().replace("EXPOSE 8001", "EXPOSE 8080")
    assert agreement_problems("langgraph", text) == ["Dockerfile EXPOSE [8080] but the manifest says 8001"]


def test_hadolint_is_clean_on_every_dockerfile():
    hadolint = Path(sys.executable).with_name("hadolint")
    files = sorted(str(p) for p in (ROOT / "docker").glob("*/Dockerfile"))
    assert len(files) == 4
    result = subprocess.run([str(hadolint), "--failure-threshold", "info", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", ["aws-agent-core", "langgraph", "snowflake-cortex"])
def test_python_images_are_multi_stage_pinned_non_root_with_a_healthcheck(service):
    text = (ROOT / f"docker/{service}/Dockerfile").read_text()
    assert text.count("FROM ") >= 2
    assert re.search(r"python:[\w.-]+@sha256:[0-9a-f]{64}", text)
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    assert "HEALTHCHECK" in text
    assert re.search(r"Size budget: \d+ MB", text)


def test_no_dockerfile_bakes_in_a_secret():
    for path in (ROOT / "docker").glob("*/Dockerfile"):
        text = path.read_text()
        assert not re.search(r"^(ENV|ARG)\s+\S*(SECRET|TOKEN|PASSWORD|KEY)\S*\s*=", text, re.MULTILINE | re.I), path


def test_dockerignore_keeps_out_what_the_guide_lists():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".env", "tests/", "__pycache__/", "*.pyc", "*.md", ".vscode/"} <= ignored


def test_execution_role_may_read_exactly_the_project_environment_secrets():
    from shipline.local.template import resource

    statements = resource("TaskExecutionRole")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    secret = next(s for s in statements if s.get("Sid") == "ServiceSecrets")
    assert secret["Resource"]["Fn::Sub"].endswith(":secret:${ProjectName}/${Environment}/*")
    rendered = render_task_definition(TARGET, MANIFEST_DATA.services["snowflake-cortex"],
                                      Image(TARGET.repository_uri("snowflake-cortex"), "sha256:" + "0" * 64),
                                      execution_role_arn="arn:aws:iam::123456789012:role/x")
    for entry in rendered["containerDefinitions"][0]["secrets"]:
        assert entry["valueFrom"].startswith(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:multi-agent-orchestrator/dev/")
