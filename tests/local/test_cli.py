"""The shipline CLI: `local run` on every sample event, `status`, and bad input."""

import json
from pathlib import Path

import pytest

from shipline.cli import main
from tests.support.paths import EVENTS, ROOT
from tests.support.stacks import GITHUB, overrides

SHORT = json.loads((EVENTS / "codecommit-push.json").read_text())["detail"]["commitId"][:7]
ALL = 4

# What each sample event leads to on a fresh local account (environment dev, gate none):
# counts of builds, task-definition revisions and notifications; webhook status; extra checks.
EXPECTED = {
    "build-requested": dict(builds=1, revisions=1, notifications=1),
    "codebuild-build-failed": dict(builds=0, revisions=0, notifications=1, subject="langgraph build FAILED"),
    "codebuild-build-succeeded": dict(builds=0, revisions=0, notifications=0),
    "codecommit-branch-created": dict(builds=ALL, revisions=ALL, notifications=ALL),
    "codecommit-push": dict(builds=ALL, revisions=ALL, notifications=ALL),
    "ecr-image-push": dict(builds=0, revisions=1, notifications=0),
    "ecr-image-push-latest": dict(builds=0, revisions=0, notifications=0),  # no commit tag: not registered
    "ecr-image-push-buildcache": dict(builds=0, revisions=0, notifications=0, ignored=1),
    # Gate none (dev): a scan of an image no push registered (its push event lost) registers it.
    "ecr-image-scan": dict(builds=0, revisions=1, notifications=1, subject="scanned: CRITICAL"),
    "ecr-image-scan-clean": dict(builds=0, revisions=0, notifications=1, subject="scanned: no findings"),
    "github-ping": dict(builds=0, revisions=0, notifications=0, webhook=200),
    "github-push": dict(builds=1, revisions=1, notifications=1, webhook=202),
    "github-push-bad-signature": dict(builds=0, revisions=0, notifications=0, webhook=401),
    # A finding is recorded, never sent by itself: its image's scan message or hourly digest carries it.
    "inspector2-finding": dict(builds=0, revisions=0, notifications=0),
    "inspector2-finding-initial": dict(builds=0, revisions=0, notifications=0),
    "inspector2-finding-no-fix": dict(builds=0, revisions=0, notifications=0),
    "schedule-findings-digest": dict(builds=0, revisions=0, notifications=0),  # nothing waits for a digest
    "inspector2-scan": dict(builds=0, revisions=1, notifications=1, subject="langgraph:" + SHORT + " scanned: HIGH"),
    # Amazon Inspector does not scan the image: one message, which says the scan did not complete
    # (the image, untagged here, is no commit's build: not registered).
    "inspector2-coverage": dict(builds=0, revisions=0, notifications=1,
                                subject="scanned: scan not completed (INACTIVE UNSUPPORTED_OS)"),
    "schedule-nightly": dict(builds=ALL, revisions=ALL, notifications=ALL),
    # ECS's events need Rollout on (only then is a rule wired): the stand-in services each run a first
    # revision; a deployment shipline did not start is recorded, not told.
    "ecs-deployment-in-progress": dict(builds=0, revisions=ALL, notifications=0, stack=["Rollout=rolling"]),
    "ecs-deployment-completed": dict(builds=0, revisions=ALL, notifications=0, stack=["Rollout=rolling"]),
    "ecs-deployment-failed": dict(builds=0, revisions=ALL, notifications=0, stack=["Rollout=rolling"]),
    "ecs-service-action": dict(builds=0, revisions=ALL, notifications=0, stack=["Rollout=rolling"]),
}


def test_every_sample_event_has_an_expectation():
    assert {p.stem for p in EVENTS.glob("*.json")} == set(EXPECTED)


def _run(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["local", "run", *args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_local_run_gives_the_expected_report_for_each_sample_event(name, capsys):
    expected = EXPECTED[name]
    # A GitHub request needs a GitHub stack: only there is the webhook wired.
    stack = overrides(GITHUB) if name.startswith("github-") else (
        ["--parameter-overrides", *expected["stack"]] if "stack" in expected else [])
    code, report, _ = _run(capsys, "--events", str(EVENTS / f"{name}.json"), *stack)
    assert code == 0 and report["errors"] == []
    assert len(report["builds"]) == expected["builds"]
    assert len(report["taskDefinitions"]) == expected["revisions"]
    assert len(report["notifications"]) == expected["notifications"]
    if "webhook" in expected:
        assert [r["statusCode"] for r in report["webhookResponses"]] == [expected["webhook"]]
    if "subject" in expected:
        assert expected["subject"] in report["notifications"][0]["subject"]
    assert len(report["ignored"]) == expected.get("ignored", 0)
    assert set(report) >= {"repositories", "builds", "images", "taskDefinitions", "notifications",
                           "webhookResponses", "errors"}


def test_bad_files_are_reported_and_the_good_ones_still_run(capsys, tmp_path: Path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    neither = tmp_path / "neither.json"
    neither.write_text('{"hello": "world"}')
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"source": "example.app", "detail-type": "Nobody Listens", "detail": {}}')
    code, report, err = _run(capsys, "--events", str(bad_json), str(neither), str(unknown),
                             str(EVENTS / "github-ping.json"), *overrides(GITHUB))
    assert code == 1
    assert report["webhookResponses"] == [{"statusCode": 200, "body": '{"message": "ignored: ping"}'}]
    assert any("bad.json: invalid JSON" in e for e in report["errors"])
    assert any("neither.json: neither an EventBridge envelope" in e for e in report["errors"])
    assert any("nothing handles detail-type 'Nobody Listens'" in e for e in report["errors"])
    assert err.count("shipline: error:") == 3


def test_files_json_cannot_read_are_reported_by_name_and_the_others_still_run(capsys, tmp_path: Path):
    """Nested too deeply, the whole run stopped with "the input is nested too deeply to read" (no
    file named, nothing run); a number past Python's digit limit was a traceback."""
    deep, big = tmp_path / "deep.json", tmp_path / "big.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    big.write_text('{"source": "x", "detail-type": "y", "detail": {"n": ' + "9" * 5000 + "}}")
    code, report, err = _run(capsys, "--events", str(deep), str(big), str(EVENTS / "github-ping.json"),
                             *overrides(GITHUB))
    assert code == 1
    assert report["webhookResponses"] == [{"statusCode": 200, "body": '{"message": "ignored: ping"}'}]
    assert report["errors"] == [f"{deep}: invalid JSON (nested too deeply)",
                                f"{big}: invalid JSON (a number has more digits than can be read)"]
    assert err.count("shipline: error:") == 2

def test_findings_option_holds_the_image_under_the_staging_gate(capsys):
    code, report, _ = _run(capsys, "--events", str(EVENTS / "github-push.json"), "--environment", "staging",
                           "--findings", "langgraph=CRITICAL:2", *overrides(GITHUB))
    assert code == 0 and report["errors"] == []
    assert report["taskDefinitions"] == []
    (note,) = report["notifications"]
    assert "CRITICAL 2" in note["message"]


def test_bad_findings_option_is_one_clear_error(capsys):
    code = main(["local", "run", "--events", str(EVENTS / "github-ping.json"), "--findings", "billing=CRITICAL:1"])
    assert code == 2
    assert "unknown service 'billing'" in capsys.readouterr().err


def test_status_shows_the_chain_for_each_service(local_account, capsys):
    from tests.local.conftest import push_event

    account = local_account()
    commit = json.loads((EVENTS / "codecommit-push.json").read_text())["detail"]["commitId"]
    account.put_event(push_event(account, commit))
    account.run()
    code = main(["status", "--endpoint-url", account.endpoint, "--table", account.stack.refs["LedgerTable"],
                 "--json"])
    statuses = {s["service"]: s for s in json.loads(capsys.readouterr().out)}
    assert code == 0
    langgraph = statuses["langgraph"]
    assert langgraph["revision"] == 1 and langgraph["tag"] == commit[:7]
    assert langgraph["digest"].startswith("sha256:")
    assert langgraph["scan"] == "passed: no findings" and langgraph["build"] == "SUCCEEDED"
    assert langgraph["registered_at"] and langgraph["scanned_at"] and langgraph["built_at"]


def test_invalid_manifest_is_one_line_naming_file_and_field(tmp_path: Path, capsys):
    manifest = tmp_path / "services.toml"
    manifest.write_text((ROOT / "services.toml").read_text().replace("port = 8001\n", ""))
    assert main(["--manifest", str(manifest), "manifest"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"shipline: error: {manifest}: services.langgraph.port: Field required"


@pytest.mark.parametrize(("command", "name"), [
    (["demo"], "demo"), (["local", "run", "--events", "events/ecr-image-push.json"], "local run"),
    (["local", "serve"], "local serve")])
def test_a_local_account_refuses_another_manifest_instead_of_ignoring_it(tmp_path: Path, capsys, command, name):
    """The local account builds the checkout with its own services.toml (what its functions
    deploy with): another --manifest is one line and exit 2, before any account is made."""
    other = tmp_path / "services.toml"
    other.write_text((ROOT / "services.toml").read_text())
    assert main(["--manifest", str(other), *command]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"shipline: error: --manifest {other}: {name} runs the checkout's own "
                          "services.toml") and "\n" not in err


def test_trigger_dry_run_resolves_the_ref_to_a_commit(capsys):
    assert main(["trigger", "--service", "langgraph", "--ref", "HEAD", "--dry-run"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert event["detail-type"] == "Build Requested" and event["detail"]["services"] == ["langgraph"]
    assert len(event["detail"]["commit"]) == 40


def test_trigger_of_an_unknown_service_is_refused(capsys):
    assert main(["trigger", "--service", "billing", "--dry-run"]) == 2
    assert "'billing' is not in the manifest" in capsys.readouterr().err


def test_plan_names_the_services_a_path_rebuilds(capsys):
    assert main(["plan", "docker/langgraph/Dockerfile"]) == 0
    assert capsys.readouterr().out.strip() == "langgraph"


def test_endpoint_url_provisions_into_another_emulator(tmp_path: Path):
    """--endpoint-url: the stack goes into an emulator this process did not start (here a moto
    server in its own process, standing in for LocalStack)."""
    import subprocess
    import sys

    import boto3

    from shipline.local.account import LocalAccount
    from tests.support.events import load_event

    # The server picks its own free port and says which: no port is reserved and released.
    script = ("from moto.server import ThreadedMotoServer; import sys; s = ThreadedMotoServer(port=0, verbose=False); "
              "s.start(); print('port', s.get_host_and_port()[1], flush=True); sys.stdin.read()")
    server = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        lines = iter(server.stdout.readline, "") if server.stdout else iter(())
        line = next((text for text in lines if text.startswith("port ")), "").split()
        assert len(line) == 2 and line[1].isdigit(), "the moto server did not start"
        endpoint = f"http://localhost:{line[1]}"
        github = {"SourceProvider": "GitHub", "GitHubRepositoryUrl": "https://github.com/example-org/multi-agent-orchestrator.git"}
        with LocalAccount(endpoint_url=endpoint, parameters=github) as account:
            response = account.invoke_webhook(load_event("github-push"))
            account.run()
            ecr = boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1",
                               aws_access_key_id="x", aws_secret_access_key="x")
            names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
        assert response["statusCode"] == 202
        assert names == ["multi-agent-orchestrator-dev-langgraph"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_status_without_a_reachable_aws_is_one_clear_error(capsys, monkeypatch):
    from botocore.config import Config

    from pipeline.adapters import clients

    # What is under test is the one line, not botocore's retries (five attempts, with backoff).
    monkeypatch.setattr(clients, "RETRIES", clients.RETRIES.merge(Config(retries={"total_max_attempts": 1})))
    assert main(["status", "--endpoint-url", "http://127.0.0.1:9", "--table", "t"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shipline: error: ") and err.count("\n") == 1


def test_a_bad_argument_with_control_characters_is_one_safe_line(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["status", "stray\n\x1b[2J"])  # argparse echoes unrecognized arguments raw
    assert exited.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error == "shipline: error: unrecognized arguments: stray\\x0a\\x1b[2J"


def test_an_unknown_service_with_control_characters_is_one_safe_line(capsys):
    assert main(["trigger", "--dry-run", "--service", "lang\ngraph"]) == 2
    (error,) = capsys.readouterr().err.splitlines()
    assert "lang\\x0agraph" in error and error.isprintable()


def test_a_revision_is_never_taken_as_a_git_option(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--from=--output=written.txt"]) == 2
    assert not (tmp_path / "written.txt").exists()
    error = capsys.readouterr().err.strip()
    assert error == "shipline: error: '--output=written.txt' is not a commit in this repository"


@pytest.mark.parametrize(("environment", "expected"), [
    ({"AWS_REGION": "", "AWS_DEFAULT_REGION": ""},
     "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or pass --endpoint-url for an emulator"),
    ({"AWS_REGION": "us-east-1"},
     "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
])
def test_missing_region_or_credentials_say_what_to_set(environment, expected):
    """In a process of its own: botocore keeps the credentials it found for the process."""
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean |= {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
              "AWS_EC2_METADATA_DISABLED": "true", **environment}
    result = subprocess.run([sys.executable, "-m", "shipline", "status", "--table", "ledger"], env=clean,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"shipline: error: {expected}"


def test_an_error_answer_from_aws_is_one_line(local_account, capsys):
    account = local_account()
    assert main(["status", "--endpoint-url", account.endpoint, "--table", "no-such-table"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("shipline: error: ") and "ResourceNotFoundException" in line


def _head() -> str:
    import subprocess

    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def _statuses(endpoint: str, capsys) -> dict[str, dict]:
    assert main(["status", "--endpoint-url", endpoint, "--json"]) == 0
    return {s["service"]: s for s in json.loads(capsys.readouterr().out)}


def test_trigger_then_status_against_a_local_account_find_its_bus_and_stack(local_account, capsys):
    """No --table: status reads the ledger's name from the stack's outputs, as in AWS."""
    account = local_account()
    head = _head()
    assert main(["trigger", "--endpoint-url", account.endpoint, "--service", "langgraph", "--ref", "HEAD"]) == 0
    assert f"Build Requested for langgraph at {head[:7]}" in capsys.readouterr().out
    account.run()
    statuses = _statuses(account.endpoint, capsys)
    assert statuses["langgraph"]["tag"] == head[:7] and statuses["langgraph"]["build"] == "SUCCEEDED"
    assert statuses["langgraph"]["revision"] == 1
    assert all(statuses[name]["build"] is None for name in statuses if name != "langgraph")


def test_status_names_the_stack_it_cannot_find(local_account, capsys):
    account = local_account()
    assert main(["status", "--endpoint-url", account.endpoint, "--environment", "prod"]) == 2
    assert "cannot read stack shipline-prod" in capsys.readouterr().err


def test_status_and_trigger_work_against_local_serve(capsys, tmp_path: Path):
    """`shipline local serve` in a process of its own, as an operator runs it; status and trigger
    from this one, with only the endpoint it printed."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    errors = (tmp_path / "serve.err").open("w")
    serve = subprocess.Popen([sys.executable, "-m", "shipline", "local", "serve"], stdout=subprocess.PIPE,
                             stderr=errors, text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def said() -> str:  # what serve wrote on stderr, for a failure's message
        return (tmp_path / "serve.err").read_text()[-2000:]

    try:
        assert serve.stdout is not None
        lines = iter(serve.stdout.readline, "")
        found = next((m for m in map(re.compile(r"Local account up at (\S+?)\.? ").search, lines) if m), None)
        assert found, f"serve did not print its endpoint: {said()}"
        endpoint = found.group(1)
        assert {s["build"] for s in _statuses(endpoint, capsys).values()} == {None}
        assert main(["trigger", "--endpoint-url", endpoint, "--service", "langgraph"]) == 0
        capsys.readouterr()
        deadline = time.monotonic() + 300  # a build on a loaded machine
        # The image's registration and the build's end are two events; either may be recorded first.
        while (langgraph := _statuses(endpoint, capsys)["langgraph"])["revision"] is None or \
                langgraph["build"] in (None, "STARTED"):
            assert time.monotonic() < deadline, f"serve did not register langgraph: {langgraph}; {said()}"
            time.sleep(1)
        assert langgraph["tag"] == _head()[:7] and langgraph["build"] == "SUCCEEDED"
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        errors.close()


def test_local_run_of_a_github_request_on_a_codecommit_stack_is_one_clear_error(capsys):
    code = main(["local", "run", "--events", str(EVENTS / "github-push.json")])
    assert code == 2
    assert "this stack has no webhook" in capsys.readouterr().err


def test_manifest_agrees_with_the_project_name_the_stack_deploys(capsys):
    assert main(["manifest"]) == 0
    assert "valid; project multi-agent-orchestrator" in capsys.readouterr().out


def test_manifest_whose_project_is_not_the_stacks_exits_non_zero_with_one_line(capsys, tmp_path: Path):
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text('[dev.deploy.parameters]\nparameter_overrides = "Environment=dev ProjectName=billing"\n'
                         '[prod.deploy.parameters]\nparameter_overrides = ["Environment=prod"]\n')
    assert main(["manifest", "--samconfig", str(samconfig)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert "[project].name is 'multi-agent-orchestrator'" in line
    assert "'dev' deploys ProjectName=billing (samconfig.toml [dev] parameter_overrides)" in line


def test_manifest_checks_the_templates_default_where_samconfig_does_not_override_it(capsys, tmp_path: Path):
    template = tmp_path / "template.yaml"
    template.write_text("Parameters:\n  ProjectName:\n    Type: String\n    Default: billing\n")
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text('[default.deploy.parameters]\nparameter_overrides = "Environment=dev"\n')
    assert main(["manifest", "--samconfig", str(samconfig), "--template", str(template)]) == 2
    assert "deploys ProjectName=billing (template.yaml Default" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "problem"), [("x = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
                                              ("x = " + "9" * 5000, "a number has more digits than can be read")])
def test_manifest_with_a_samconfig_toml_cannot_read_names_it(text, problem, capsys, tmp_path: Path):
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(text + "\n")
    assert main(["manifest", "--samconfig", str(samconfig)]) == 2
    assert capsys.readouterr().err.strip() == f"shipline: error: {samconfig}: cannot be read ({problem})"


def test_manifest_with_a_samconfig_that_is_not_there_says_so_instead_of_valid(capsys, tmp_path: Path):
    missing = tmp_path / "samcofig.toml"
    assert main(["manifest", "--samconfig", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"shipline: error: --samconfig {missing}: file not found"


@pytest.mark.parametrize("command", [["status"], ["trigger"], ["rollback", "-s", "langgraph"], ["demo"],
                                     ["local", "run", "--events", str(EVENTS / "github-ping.json")]])
@pytest.mark.parametrize("url", ["notaurl", "ftp://127.0.0.1:4566", "http://"])
def test_an_endpoint_url_that_is_not_an_http_url_is_a_usage_error_before_any_call(command, url, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--endpoint-url", url])
    assert exited.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.endswith(f"error: argument --endpoint-url: '{url}' is not an http(s) URL, "
                          "such as http://127.0.0.1:4566")


def test_trigger_of_an_empty_ref_is_one_clear_error(capsys):
    assert main(["trigger", "--dry-run", "--ref", ""]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "shipline: error: --ref '': not a commit in this repository, nor a branch name"


def test_trigger_of_a_ref_git_would_refuse_as_a_branch_sends_nothing(capsys):
    """`a b` is neither a commit nor a branch git could hold: refused here, not by the planner after the event."""
    assert main(["trigger", "--ref", "a b", "--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err.strip() == ("shipline: error: --ref 'a b': not a commit in this repository, "
                                               "nor a branch name")


@pytest.mark.parametrize("path", ["../outside", "docker/../../outside", "", "./", "docker/.."])
def test_plan_of_a_path_that_leaves_the_repository_or_is_its_root_names_it(path, capsys):
    """Not "(nothing to rebuild)", which reads as an answer."""
    assert main(["plan", path]) == 2
    assert capsys.readouterr().err.strip() == f"shipline: error: '{path}': not a file or folder inside the repository"


@pytest.mark.parametrize("path", [str(ROOT / ".." / "outside"), "/etc/hosts"])
def test_plan_of_an_absolute_path_outside_this_checkout_names_it(path, capsys):
    assert main(["plan", path]) == 2
    assert capsys.readouterr().err.strip() == (f"shipline: error: '{path}': not a file or folder inside the "
                                               f"repository ({ROOT})")


@pytest.mark.parametrize("command", [
    ["status", "--table", ""], ["status", "--stack", " "], ["rollback", "--service", "langgraph", "--table", ""],
    ["local", "run", "--events", "events/ecr-image-push.json", "--webhook-secret", ""],
    ["promote", "--service", "langgraph", "--from", "dev", "--to", "staging", "--from-stack", ""],
    ["approve", "--service", "langgraph", "--environment", "prod", "--to-stack", ""]])
def test_an_empty_name_or_secret_is_refused_not_taken_for_the_default(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main(command)
    assert exited.value.code == 2
    assert "must not be empty (leave the option out for its default)" in capsys.readouterr().err


@pytest.mark.parametrize("role", ["nope", "arn:aws:iam::123456789012:user/alice", "arn:aws:iam::1234:role/x"])
def test_promote_refuses_a_role_arn_that_is_not_a_roles_before_any_call(role, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["promote", "--service", "langgraph", "--from", "dev", "--to", "staging", "--role-arn", role,
              "--endpoint-url", "http://127.0.0.1:9"])
    assert exited.value.code == 2
    assert f"argument --role-arn: '{role}' is not an IAM role ARN" in capsys.readouterr().err


def test_plan_reads_a_path_into_this_checkout_as_its_repository_path(capsys):
    """What a shell's tab completion gives: was "(nothing to rebuild)" for a service's own Dockerfile."""
    assert main(["plan", str(ROOT / "docker/langgraph/Dockerfile")]) == 0
    assert capsys.readouterr().out.strip() == "langgraph"


def test_plan_reads_a_repository_path_given_with_a_leading_dot_slash(capsys):
    assert main(["plan", "./docker/langgraph/Dockerfile"]) == 0
    assert capsys.readouterr().out.strip() == "langgraph"
