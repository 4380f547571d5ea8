"""template.yaml is the truth: it validates, and the code agrees with it."""

import copy
import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pipeline.settings import Settings
from shipline.local.template import raw, resource
from tests.support.paths import ROOT
from tests.support.stacks import GITHUB

FUNCTIONS = [name for name, r in raw()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]


def test_sam_validate_lint_is_clean():
    sam = Path(sys.executable).with_name("sam")
    result = subprocess.run(
        [str(sam), "validate", "--lint", "--region", "us-east-1", "--template-file", "template.yaml"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "SAM_CLI_TELEMETRY": "0"}, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout
    assert lint_findings(result.stdout) == []


def lint_findings(output: str) -> list[str]:
    """The rules sam's linter (cfn-lint) matched: lines such as "[[W3005: Obsolete DependsOn] ..."."""
    return [line for line in output.splitlines() if re.match(r"^\[*[EWI]\d{4}\b", line)]


def test_lint_findings_are_seen_whatever_their_level():
    output = ("/t/template.yaml is a valid SAM Template\n[[W3005: Obsolete DependsOn on resource] (x)]\n"
              "[[E3012: Check resource properties values] ('a' is not of type 'array')]\n")
    assert [line[:8] for line in lint_findings(output)] == ["[[W3005:", "[[E3012:"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_handler_in_the_template_exists(function):
    module, name = resource(function)["Properties"]["Handler"].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), name))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_environment_variable_is_one_settings_reads(function):
    known = {field.alias for field in Settings.model_fields.values()} | {
        "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
        "POWERTOOLS_TRACE_DISABLED", "PYDANTIC_DISABLE_PLUGINS",
    }
    env = {**raw()["Globals"]["Function"]["Environment"]["Variables"],
           **resource(function)["Properties"].get("Environment", {}).get("Variables", {})}
    assert set(env) <= known


def test_functions_run_python313_on_arm64():
    function = raw()["Globals"]["Function"]
    assert function["Runtime"] == "python3.13" and function["Architectures"] == ["arm64"]


def test_samconfig_has_the_three_environments():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for env in ("dev", "staging", "prod"):
        overrides = config[env]["deploy"]["parameters"]["parameter_overrides"]
        assert f"Environment={env}" in overrides


def test_the_stack_holds_nothing_per_service():
    """A service is a line in services.toml, not a resource: the template names no service and
    creates no per-service log group, so 200 services deploy in one stack (500 resources at most).
    The build starter creates each service's ECS log group, with its retention, before the build."""
    from pipeline.domain.manifest import load_manifest
    from tests.support.paths import MANIFEST

    text = (ROOT / "template.yaml").read_text()
    for name in load_manifest(MANIFEST).names:
        assert name not in text, f"template.yaml names the service {name}"
    groups = [r for r in raw()["Resources"].values()
              if r["Type"] == "AWS::Logs::LogGroup" and "/ecs/" in str(r["Properties"].get("LogGroupName"))]
    assert groups == []
    starter = resource("BuildStarterFunction")["Properties"]
    statements = [s for p in starter["Policies"] if isinstance(p, dict) and "Statement" in p for s in p["Statement"]]
    actions = {a for s in statements if "Action" in s
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"logs:CreateLogGroup", "logs:PutRetentionPolicy"} <= actions


def test_image_push_rule_ignores_the_build_cache_tag_in_its_pattern():
    from pipeline.flows.images import BUILD_CACHE_TAG

    pattern = resource("ImageEventsFunction")["Properties"]["Events"]["ImagePushed"]["Properties"]["Pattern"]
    assert pattern["detail"]["image-tag"] == [{"anything-but": BUILD_CACHE_TAG}]


def test_serverless_rules_are_clean_with_every_suppression_justified():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), "--append-rules", "cfn_lint_serverless.rules", "--", "template.yaml"],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "template.yaml").read_text().splitlines()
    for number, line in enumerate(text):
        if line.strip().startswith("- ") and "ignore_checks" in text[number - 1]:
            assert "#" in line, f"template.yaml:{number + 1}: a suppression without its reason"


def test_every_asynchronous_function_has_an_on_failure_destination_and_the_queue_an_alarm():
    for function in FUNCTIONS:
        props = resource(function)["Properties"]
        if "FunctionUrlConfig" in props:
            continue  # synchronous: GitHub sees the answer; an accepted push is stored on a queue first
        queues = [e["Properties"]["Queue"] for e in props.get("Events", {}).values() if e["Type"] == "SQS"]
        if queues:  # polled from a queue: the queue redrives to the dead-letter queue
            for queue in queues:
                redrive = resource(queue["Fn::GetAtt"][0])["Properties"]["RedrivePolicy"]
                assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
            continue
        destination = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
        assert destination == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
        for event in props["Events"].values():
            assert event["Properties"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    alarm = resource("DeadLetterAlarm")["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}


def test_dashboard_shows_the_figures_the_functions_emit():
    from pipeline.domain.scans import SEVERITIES

    body = resource("Dashboard")["Properties"]["DashboardBody"]["Fn::Sub"]
    handlers = "".join((ROOT / "functions/pipeline/handlers" / f).read_text()
                       for f in ("build_trigger.py", "build_starter.py", "build_events.py", "image_events.py"))
    # The findings metrics are named from the severity, in one f-string.
    assert 'f"Findings{severity.title()}"' in handlers
    emitted = {f"Findings{s.title()}" for s in SEVERITIES}
    for metric in ("BuildsStarted", "BuildsFailed", "ImagesReused", "RevisionsRegistered", "ImagesHeld",
                   "FindingsCritical", "FindingsHigh"):
        assert f'"{metric}"' in body
        assert f'"{metric}"' in handlers or metric in emitted


def test_the_readme_lists_every_metric_the_functions_emit_and_no_other():
    """The README's metrics table names each metric a handler emits, and nothing else."""
    handlers = "".join(path.read_text() for path in (ROOT / "functions/pipeline/handlers").glob("*.py"))
    emitted = set(re.findall(r'add_metric\(name="(\w+)"', handlers))
    emitted |= set(re.findall(r'"(Deployments\w+)"', handlers))  # the rollout's, named from the deployment's end
    assert 'add_metric(name=f"Findings{severity.title()}"' in handlers
    emitted.add("Findings<Severity>")
    readme = (ROOT / "README.md").read_text()
    rows = readme[readme.index("| metric | emitted by | counts |"):].splitlines()
    rows = [row.strip() for row in rows[2:next(i for i, row in enumerate(rows) if not row.strip().startswith("|"))]]
    listed = {name for row in rows for name in re.findall(r"`([\w<>]+)`", row.split("|")[1])}
    assert listed == emitted


def test_sam_package_of_functions_carries_the_manifest(tmp_path):
    """`sam deploy` zips functions/ as it is (following links): the Lambda package holds the
    services manifest the handlers load, byte for byte."""
    import zipfile

    from samcli.lib.package.utils import make_zip_with_lambda_permissions

    archive = make_zip_with_lambda_permissions(str(tmp_path / "functions"), str(ROOT / "functions"))
    with zipfile.ZipFile(archive) as package:
        names = set(package.namelist())
        assert package.read("services.toml") == (ROOT / "services.toml").read_bytes()
    assert "pipeline/handlers/build_trigger.py" in names


def test_the_project_name_pattern_is_the_manifests():
    from pipeline.domain.manifest import NAME_PATTERN

    assert raw()["Parameters"]["ProjectName"]["AllowedPattern"] == NAME_PATTERN


def test_the_build_requests_bus_is_named_as_the_cli_names_it():
    from pipeline.domain.naming import Target

    name = resource("BuildRequestsBus")["Properties"]["Name"]["Fn::Sub"]
    resolved = name.replace("${ProjectName}", "p").replace("${Environment}", "dev")
    assert resolved == Target("p", "dev", "", "").requests_bus()


# ---------------------------------------------------------------- SourceProvider: one trigger wired
# What exists only for one provider, after CloudFormation's evaluation of the conditions (the
# local account's model evaluates them as CloudFormation does, on the SAM-translated template).
GITHUB_ONLY = {
    "GitHubWebhookFunction", "GitHubWebhookFunctionRole", "GitHubWebhookFunctionUrl",
    "GitHubWebhookFunctionUrlPublicPermissions", "GitHubWebhookFunctionURLInvokeAllowPublicAccess",
    "GitHubWebhookFunctionLogGroup", "WebhookSecret",
}
CODECOMMIT_ONLY = {"BuildTriggerFunctionCodeCommitPush", "BuildTriggerFunctionCodeCommitPushPermission"}


def _model(**parameters):
    from shipline.local.model import TemplateModel
    from tests.support.stacks import GITHUB

    if parameters.get("SourceProvider") == "GitHub":  # a GitHub stack needs its repository (the template's rule)
        parameters = {**GITHUB, **parameters}
    return TemplateModel(parameters=parameters)


def _codecommit_rules(model) -> list[str]:
    return [logical for logical in model.of_type("AWS::Events::Rule")
            if "aws.codecommit" in (model.properties(logical).get("EventPattern") or {}).get("source", [])]


def test_under_codecommit_only_the_codecommit_push_rule_triggers():
    model = _model(SourceProvider="CodeCommit")
    existing = set(model.existing())
    assert CODECOMMIT_ONLY <= existing and not GITHUB_ONLY & existing
    assert _codecommit_rules(model) == ["BuildTriggerFunctionCodeCommitPush"]
    assert model.of_type("AWS::Lambda::Url") == {}
    assert not {"GitHubWebhookUrl", "WebhookSecretArn"} & set(model.outputs())


def test_under_github_only_the_webhook_triggers():
    model = _model(SourceProvider="GitHub", GitHubRepositoryUrl="https://github.com/o/r.git")
    existing = set(model.existing())
    assert GITHUB_ONLY <= existing and not CODECOMMIT_ONLY & existing
    assert _codecommit_rules(model) == []
    assert list(model.of_type("AWS::Lambda::Url")) == ["GitHubWebhookFunctionUrl"]
    assert {"GitHubWebhookUrl", "WebhookSecretArn"} <= set(model.outputs())


def test_every_template_resource_exists_under_one_provider_or_the_other():
    """Nothing is conditional on the provider but the triggers: the rest exists under both."""
    codecommit = set(_model(SourceProvider="CodeCommit").existing())
    github = set(_model(SourceProvider="GitHub").existing())
    assert github ^ codecommit == GITHUB_ONLY | CODECOMMIT_ONLY


def test_the_codecommit_push_rule_retries_and_dead_letters_as_the_functions_events_do():
    target = resource("BuildTriggerFunctionCodeCommitPush")["Properties"]["Targets"][0]
    requested = resource("BuildTriggerFunction")["Properties"]["Events"]["BuildRequested"]["Properties"]
    assert target["Arn"] == {"Fn::GetAtt": ["BuildTriggerFunction", "Arn"]}
    assert (target["RetryPolicy"], target["DeadLetterConfig"]) == (requested["RetryPolicy"],
                                                                   requested["DeadLetterConfig"])


@pytest.mark.parametrize("provider", ["CodeCommit", "GitHub"])
def test_the_error_alarm_watches_every_function_of_the_stack(provider):
    model = _model(SourceProvider=provider)
    watched = {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
               for m in model.properties("FunctionErrorsAlarm")["Metrics"] if "MetricStat" in m}
    assert watched == {model.names[f] for f in model.of_type("AWS::Lambda::Function")}


def test_the_codecommit_permissions_exist_only_under_codecommit():
    for provider, expected in (("CodeCommit", True), ("GitHub", False)):
        model = _model(SourceProvider=provider)
        trigger = model.function_policies({"BuildTriggerFunction": None})["BuildTriggerFunction"]
        build = model.properties("BuildRole")["Policies"][0]["PolicyDocument"]["Statement"]
        assert any(s.get("Sid") == "ReadPushes" for s in trigger) is expected
        assert any(s.get("Sid") == "Source" for s in build) is expected


def test_the_github_token_is_readable_only_in_a_github_stack_that_names_one():
    """GitHubTokenSecretArn: the build starter and trigger may read that one secret; with it empty,
    or under CodeCommit, no statement names a secret for them. Both may look for and retag an
    image by its build inputs under either provider."""
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:github-token-AbCdEf"
    for parameters, expected in (({"SourceProvider": "GitHub", "GitHubTokenSecretArn": arn}, [arn]),
                                 ({"SourceProvider": "GitHub"}, []),
                                 ({"SourceProvider": "CodeCommit", "GitHubTokenSecretArn": arn}, [])):
        model = _model(**parameters)
        policies = model.function_policies({"BuildStarterFunction": None, "BuildTriggerFunction": None})
        for function, statements in policies.items():
            reads = [s["Resource"] for s in statements if "secretsmanager:GetSecretValue" in str(s.get("Action"))]
            assert reads == expected, (parameters, function)
        assert any(s.get("Sid") == "ReuseImages" for s in policies["BuildStarterFunction"])
        environment = model.properties("BuildStarterFunction")["Environment"]["Variables"]
        assert environment["GITHUB_TOKEN_SECRET_ARN"] == parameters.get("GitHubTokenSecretArn", "")


def test_a_github_token_secret_must_be_a_secrets_manager_arn():
    pattern = re.compile(raw()["Parameters"]["GitHubTokenSecretArn"]["AllowedPattern"])
    assert pattern.match("") and pattern.match("arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh-AbCdEf")
    assert not pattern.match("github-token") and not pattern.match("ghp_abc")


def test_a_resource_that_refers_to_one_that_does_not_exist_stops_the_model():
    """As CloudFormation refuses the template: a reference to a resource whose condition is false,
    outside an Fn::If on that condition."""
    from shipline.local.model import TemplateError, TemplateModel

    template = copy.deepcopy(raw())
    template["Outputs"]["SecretName"] = {"Value": {"Ref": "WebhookSecret"}}
    with pytest.raises(TemplateError, match="WebhookSecret, which does not exist .* condition UseGitHub"):
        TemplateModel(template, {"SourceProvider": "CodeCommit"})
    assert TemplateModel(template, GITHUB).outputs()["SecretName"]


@pytest.mark.parametrize(("parameters", "admitted"), [
    (GITHUB, None),  # the webhook queues its pushes' build starts itself: it puts nothing on the bus
    ({**GITHUB, "OperatorPrincipalArn": "arn:aws:iam::123456789012:role/op"}, ["arn:aws:iam::123456789012:role/op"]),
    ({"SourceProvider": "CodeCommit", "OperatorPrincipalArn": "arn:aws:iam::123456789012:role/op"},
     ["arn:aws:iam::123456789012:role/op"]),
    ({"SourceProvider": "CodeCommit", "RebuildOnFixAvailable": "true"}, ["ImageEventsFunctionRole"]),
    ({"SourceProvider": "CodeCommit"}, None),  # no exception to the Deny: nobody
])
def test_only_the_operator_and_rebuilds_for_a_fix_may_put_build_requests(parameters, admitted):
    model = _model(**parameters)
    statement = model.properties("BuildRequestsBusPolicy")["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*" and statement["Action"] == "events:PutEvents"
    allowed = statement.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn")
    role = model.resolve.values.get("ImageEventsFunctionRole.Arn")
    assert allowed == (None if admitted is None else [role if a == "ImageEventsFunctionRole" else a
                                                      for a in admitted])
    rule = resource("BuildTriggerFunction")["Properties"]["Events"]["BuildRequested"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "BuildRequestsBus"}


def test_a_github_stack_without_its_repository_url_is_refused_before_anything_is_created():
    """The template's rule, checked as CloudFormation checks Rules (the local model does too):
    CodeBuild cannot create a GitHub project with no source location."""
    from shipline.local.model import TemplateError, TemplateModel

    with pytest.raises(TemplateError, match="GitHubNeedsItsRepository: SourceProvider=GitHub needs GitHub"):
        TemplateModel(parameters={"SourceProvider": "GitHub"})
    assert TemplateModel(parameters=GITHUB).parameters["GitHubRepositoryUrl"] == GITHUB["GitHubRepositoryUrl"]
    assert TemplateModel().parameters["SourceProvider"] == "CodeCommit"  # the rule holds only for GitHub


@pytest.mark.parametrize("provider", ["CodeCommit", "GitHub"])
def test_rebuild_on_fix_admits_the_image_events_function_to_the_requests_bus_and_nothing_more(provider):
    """RebuildOnFixAvailable=true: the image events function may put events on shipline's
    requests bus (its policy, that bus only) and the bus's Deny excepts its role; false (the
    default): neither, and the function is not told the bus."""
    for value, admitted in (("true", True), ("false", False)):
        model = _model(SourceProvider=provider, RebuildOnFixAvailable=value)
        role = model.resolve.values["ImageEventsFunctionRole.Arn"]
        statement = model.properties("BuildRequestsBusPolicy")["Statement"]
        allowed = statement.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn") or []
        assert (role in allowed) is admitted
        policy = model.function_policies({"ImageEventsFunction": None})["ImageEventsFunction"]
        puts = [s for s in policy if s.get("Action") == "events:PutEvents"]
        assert puts == ([{"Sid": "RequestRebuilds", "Effect": "Allow", "Action": "events:PutEvents",
                          "Resource": model.resolve.values["BuildRequestsBus.Arn"]}] if admitted else [])
        environment = model.functions()["ImageEventsFunction"].environment
        assert environment["REBUILD_ON_FIX_AVAILABLE"] == value
        assert bool(environment.get("EVENT_BUS")) is admitted


@pytest.mark.parametrize("branch", ["refs/heads/main", "", "a b", "ma..in", "release/", "x.lock", "-x"])
def test_a_tracked_branch_that_is_not_a_branch_name_is_refused_with_its_constraint(branch):
    """A full ref or a name git refuses would deploy rules that match no push: every push would be
    dropped at EventBridge. CloudFormation reports the ConstraintDescription; so does the local account."""
    from shipline.local.model import TemplateError, TemplateModel

    with pytest.raises(TemplateError) as refused:
        TemplateModel(parameters={"TrackedBranch": branch})
    assert str(refused.value) == (f"parameter TrackedBranch='{branch}' must be a branch name such as main or "
                                  "release/2026 (not refs/heads/main; no spaces, '..', '~', '^', ':', '?', '*', "
                                  "'[', backslash, '@{', and not ending in '/', '.' or '.lock')")


@pytest.mark.parametrize("branch", ["main", "release/2026", "feature/JIRA-12_fix", "v1.2"])
def test_a_branch_name_is_a_tracked_branch(branch):
    from shipline.local.model import TemplateModel

    assert TemplateModel(parameters={"TrackedBranch": branch}).parameters["TrackedBranch"] == branch
