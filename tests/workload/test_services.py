"""The sample services, in-process over HTTP: the chain, /health, errors, SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.support.paths import ROOT
from workload.aws_agent_core.app import build as agent_core
from workload.langgraph.app import build as langgraph
from workload.langgraph.app import choose_agent
from workload.snowflake_cortex.app import CortexBackend, OfflineBackend, choose_backend
from workload.snowflake_cortex.app import build as cortex


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _post(url: str, body: object) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def chain(monkeypatch):
    """The three services on free loopback ports, wired as the task definitions wire them."""
    started = []

    def start(service):
        service.start(host="127.0.0.1")
        started.append(service)
        return f"http://127.0.0.1:{service.port}"

    cortex_url = start(cortex(port=0, backend=OfflineBackend()))
    monkeypatch.setenv("SNOWFLAKE_CORTEX_ENDPOINT", cortex_url)
    langgraph_url = start(langgraph(port=0))
    monkeypatch.setenv("LANGGRAPH_ENDPOINT", langgraph_url)
    core_url = start(agent_core(port=0))
    yield {"core": core_url, "langgraph": langgraph_url, "cortex": cortex_url}
    for service in started:
        service.stop()


def test_invoke_goes_through_langgraph_to_cortex_and_back(chain):
    status, body = _post(chain["core"] + "/invoke", {"input": "How many tables have revenue data?"})
    assert status == 200
    assert body["orchestrator"] == "aws-agent-core" and body["supervisor"] == "langgraph"
    assert body["agent"] == "sql" and body["backend"] == "offline"
    assert body["answer"].startswith("-- offline answer")


@pytest.mark.parametrize("service", ["core", "langgraph", "cortex"])
def test_every_service_answers_health(chain, service):
    assert _get(chain[service] + "/health")["status"] == "ok"


def test_cortex_health_names_its_backend(chain):
    assert _get(chain["cortex"] + "/health")["backend"] == "offline"


def test_empty_input_is_a_400(chain):
    status, body = _post(chain["core"] + "/invoke", {"input": "  "})
    assert status == 400 and body["error"] == "'input' is required"


def test_non_object_body_is_a_400(chain):
    status, body = _post(chain["core"] + "/invoke", ["not", "an", "object"])
    assert status == 400 and "JSON object" in body["error"]


def test_unreachable_upstream_is_a_502(monkeypatch):
    monkeypatch.setenv("LANGGRAPH_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    service = agent_core(port=0)
    service.start(host="127.0.0.1")
    try:
        status, body = _post(f"http://127.0.0.1:{service.port}/invoke", {"input": "hi"})
    finally:
        service.stop()
    assert status == 502 and "127.0.0.1:9" in body["error"]


def test_supervisor_sends_questions_about_data_to_the_sql_agent():
    assert choose_agent("count the rows in the orders table") == "sql"
    assert choose_agent("summarise this meeting") == "summary"


def test_backend_is_offline_without_snowflake_credentials():
    assert isinstance(choose_backend({}), OfflineBackend)
    assert isinstance(choose_backend({"SNOWFLAKE_ACCOUNT": "acme", "SNOWFLAKE_TOKEN": ""}), OfflineBackend)


def test_backend_is_cortex_with_credentials():
    backend = choose_backend({"SNOWFLAKE_ACCOUNT": "acme-xy12345", "SNOWFLAKE_TOKEN": "t"})
    assert isinstance(backend, CortexBackend)
    assert backend.url == "https://acme-xy12345.snowflakecomputing.com/api/v2/cortex/inference:complete"


def test_forcing_snowflake_without_credentials_stops_with_a_message():
    with pytest.raises(SystemExit, match="needs SNOWFLAKE_ACCOUNT and SNOWFLAKE_TOKEN"):
        choose_backend({"CORTEX_BACKEND": "snowflake"})


def test_service_logs_json_and_stops_cleanly_on_sigterm():
    env = {**os.environ, "PORT": "0", "PYTHONPATH": str(ROOT), "CORTEX_BACKEND": "offline"}
    process = subprocess.Popen([sys.executable, "-m", "workload.snowflake_cortex"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(process.stdout.readline())
        assert first["message"] == "listening" and first["service"] == "snowflake-cortex"
        time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        rest = [json.loads(line) for line in process.stdout.read().splitlines()]
        assert [entry["message"] for entry in rest] == ["shutting down", "stopped"]
    finally:
        process.kill()
