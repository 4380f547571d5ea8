"""shipline: the operator CLI. `shipline --help` lists the commands."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pipeline.adapters.errors import AwsCallError
from pipeline.domain.manifest import (
    DEFAULT_MANIFEST_PATH,
    ENVIRONMENTS,
    ManifestError,
    UnknownServiceError,
    load_manifest,
)
from pipeline.domain.naming import InvalidCommitError
from pipeline.domain.promotion import PromotionError
from pipeline.domain.quoting import one_line
from pipeline.settings import ConfigurationError
from shipline import output
from shipline.argtypes import non_empty
from shipline.local.quotas import DEFAULT_QUOTA

ROOT = Path(__file__).resolve().parents[1]


class CommandError(RuntimeError):
    """A command that cannot go on; its message says what to change."""


# Exceptions whose message is the whole story for the user: one line, exit code 2.
USER_ERRORS: tuple[type[Exception], ...] = (
    CommandError, ManifestError, UnknownServiceError, InvalidCommitError, ConfigurationError, AwsCallError,
    PromotionError,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    from shipline.local.inputs import InputError
    from shipline.local.model import TemplateError

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        if os.environ.get(name) == "":  # set but empty means unset, not a region called ""
            del os.environ[name]
    if "AWS_REGION" in os.environ:  # what the SDKs read besides botocore's AWS_DEFAULT_REGION
        os.environ.setdefault("AWS_DEFAULT_REGION", os.environ["AWS_REGION"])
    try:
        return int(args.run(args) or 0)
    except USER_ERRORS + (InputError, TemplateError) as exc:
        error(exc)
    except NoRegionError:
        error("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or pass --endpoint-url for an emulator")
    except NoCredentialsError:
        error("no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    except BotoCoreError as exc:  # no network, no endpoint: AWS never answered
        error(exc)
    except ClientError as exc:  # AWS (or the emulator) answered with an error this command does not expect
        detail = exc.response.get("Error", {})
        error(f"{exc.operation_name}: {detail.get('Code', 'error')}: {detail.get('Message', '')}")
    except RecursionError:
        error("the input is nested too deeply to read")
    except KeyboardInterrupt:
        return 130
    return 2


def error(message: object) -> None:
    """The CLI's one way of reporting a problem: one printable line on stderr."""
    print(f"shipline: error: {one_line(message)}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors (which echo the bad argument) made one safe line too."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="shipline", description="Git push to scanned ECR images and ECS task-definition revisions.")
    parser.add_argument("--version", action="version", version=version_line(),
                        help="shipline's version and the Powertools layer the stack deploys")
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST_PATH, help="services manifest")
    sub = parser.add_subparsers(metavar="COMMAND")

    def environment(p: argparse.ArgumentParser) -> None:
        p.add_argument("--environment", "-e", choices=ENVIRONMENTS, default="dev")

    def endpoint(p: argparse.ArgumentParser) -> None:
        p.add_argument("--endpoint-url", type=_endpoint_url,
                       help="use this AWS emulator (for example LocalStack) instead of moto")

    def findings(p: argparse.ArgumentParser) -> None:
        p.add_argument("--findings", action="append", default=[], metavar="SERVICE=SEVERITY:N[,SEVERITY:N]",
                       help="scan findings the emulated ECR reports for a service, e.g. langgraph=CRITICAL:1,HIGH:2")
        account_options(p)

    def account_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE",
                       help="template parameters, as `sam deploy --parameter-overrides` takes them")
        p.add_argument("--scanning", choices=("basic", "enhanced"), default="basic",
                       help="the registry's scanning: ECR basic, or enhanced (Amazon Inspector)")
        p.add_argument("--failing-scans", action="append", default=[], metavar="SERVICE",
                       help="scans of this service's images FAIL (repeatable)")
        p.add_argument("--codebuild-quota", type=_positive, default=DEFAULT_QUOTA, metavar="N",
                       help=f"concurrent builds the account runs (default {DEFAULT_QUOTA}); 5*N more queue, "
                            "then StartBuild fails with AccountLimitExceededException, as in AWS")
        p.add_argument("--fail-deployment", action="append", default=[], metavar="SERVICE",
                       help="with Rollout on: this service's next ECS deployment fails (circuit breaker) and rolls "
                            "back to the revision it replaced (repeatable)")
        p.add_argument("--chaos", type=int, metavar="SEED",
                       help="deliver asynchronous invocations concurrently, some twice, in a shuffled order "
                            "(seeded, reproducible), as Lambda may")

    demo = sub.add_parser("demo", help="the whole chain on a fresh local account, for this checkout's latest commit")
    environment(demo)
    endpoint(demo)
    findings(demo)
    demo.add_argument("--from", dest="from_rev", help="push from this revision (default: a new branch, all services)")
    demo.add_argument("--to", dest="to_rev", default="HEAD", help="push to this revision (default HEAD)")
    demo.add_argument("--json", action="store_true", help="print the report as JSON instead of tables")
    demo.set_defaults(run=run_demo)

    local = sub.add_parser("local", help="the local account: an emulated AWS with the stack in it")
    local_sub = local.add_subparsers(metavar="ACTION")
    run = local_sub.add_parser("run", help="inject events into a fresh local account and report what happened")
    run.add_argument("--events", nargs="+", type=Path, required=True, metavar="FILE")
    environment(run)
    endpoint(run)
    findings(run)
    run.add_argument("--webhook-secret", default=None, type=non_empty,
                     help="GitHub webhook secret (default: the documented one)")
    run.add_argument("--github-token", default=None, metavar="TOKEN",
                     help="a GitHub stack's repository is private, read with this token (kept in a secret named by "
                          "GitHubTokenSecretArn); default: public, no token")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.set_defaults(run=run_local)
    serve = local_sub.add_parser("serve", help="keep a local account up and print its endpoint")
    environment(serve)
    findings(serve)
    serve.set_defaults(run=run_serve)

    status = sub.add_parser("status", help="per service: latest revision, image, scan verdict and build")
    environment(status)
    endpoint(status)
    status.add_argument("--table", type=non_empty,
                        help="ledger table (default: the LedgerTableName output of the stack)")
    status.add_argument("--stack", type=non_empty,
                        help="stack name (default: shipline-<environment>, as in samconfig.toml)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=run_status)

    trigger = sub.add_parser("trigger", help='put a "Build Requested" event on the bus')
    environment(trigger)
    endpoint(trigger)
    trigger.add_argument("--service", "-s", action="append", default=[],
                         help="service to build (repeatable; default all)")
    trigger.add_argument("--ref", "-r", default="HEAD", help="commit or branch (default HEAD, resolved with git)")
    trigger.add_argument("--force", action="store_true",
                         help="build even if this commit was built successfully before (a new build, new digest)")
    trigger.add_argument("--dry-run", action="store_true", help="print the event instead of sending it")
    trigger.set_defaults(run=run_trigger)

    plan = sub.add_parser("plan", help="which services a change rebuilds")
    plan.add_argument("paths", nargs="*", help="changed paths (or use --from/--to)")
    plan.add_argument("--from", dest="from_rev")
    plan.add_argument("--to", dest="to_rev", default="HEAD")
    plan.set_defaults(run=run_plan)

    from shipline import rollback

    rollback.add_command(sub, environment, endpoint)

    manifest = sub.add_parser("manifest", help="validate the services manifest (and its project name against the "
                                               "stack's ProjectName) and show it")
    manifest.add_argument("--json", action="store_true")
    manifest.add_argument("--samconfig", type=Path, default=None,
                          help="sam's config: each environment's parameter_overrides ProjectName")
    manifest.add_argument("--template", type=Path, default=ROOT / "template.yaml",
                          help="the template: ProjectName's Default, where samconfig.toml does not override it")
    manifest.set_defaults(run=run_manifest)

    from shipline import promotion

    promotion.add_commands(sub, endpoint)
    return parser


# The layer in template.yaml, the one place its release is pinned (`{{resolve:ssm:...}}`).
_POWERTOOLS_LAYER = re.compile(
    r"\{\{resolve:ssm:/aws/service/powertools/python/(?P<arch>[\w]+)/(?P<python>python[\d.]+)/(?P<version>[^}]+)\}\}")


def deployed_powertools(template: Path = ROOT / "template.yaml") -> tuple[str, str, str] | None:
    """(release, runtime, architecture) of the Powertools layer the stack deploys."""
    found = _POWERTOOLS_LAYER.search(template.read_text()) if template.exists() else None
    return (found["version"], found["python"], found["arch"]) if found else None


def version_line() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("shipline")
    except PackageNotFoundError:  # run from a checkout that was never installed
        own = "(not installed)"
    layer = deployed_powertools()
    powertools = f"Powertools {layer[0]} layer for {layer[1]} {layer[2]}" if layer else "no Powertools layer found"
    return f"shipline {own} ({powertools})"


# ---------------------------------------------------------------------------- commands
def run_manifest(args: argparse.Namespace) -> int:
    from shipline.deployment import DeploymentConfigError, deployed_project_names

    manifest = load_manifest(args.manifest)
    # No samconfig.toml is a checkout that deploys the template's defaults; a --samconfig that is
    # not there is a typo, which would otherwise check nothing and say "valid".
    if args.samconfig is not None and not args.samconfig.is_file():
        raise CommandError(f"--samconfig {args.samconfig}: file not found")
    try:
        deployed = deployed_project_names(args.samconfig or ROOT / "samconfig.toml", args.template)
    except DeploymentConfigError as exc:
        raise CommandError(str(exc)) from None
    # The functions refuse to run when the two differ; say so before a deploy, not after.
    wrong = [d for d in deployed if d.project != manifest.project.name]
    if wrong:
        first, more = wrong[0], f" (and {len(wrong) - 1} more environments)" if len(wrong) > 1 else ""
        raise CommandError(f"{args.manifest}: [project].name is '{manifest.project.name}' but the stack for "
                           f"'{first.config_env}' deploys ProjectName={first.project} ({first.source}){more}: "
                           "make them the same, or pushes and build requests reach no rule and nothing builds")
    if args.json:
        print(manifest.model_dump_json(indent=2))
        return 0
    rows = [[name, s.port, f"{s.cpu}/{s.memory}", s.dockerfile, "yes" if s.optional else "", " ".join(s.paths)]
            for name, s in manifest.services.items()]
    print(f"{args.manifest}: valid; project {manifest.project.name}, branch {manifest.project.branch}")
    print(output.table(["service", "port", "cpu/mem", "dockerfile", "optional", "rebuilds on"], rows))
    return 0


def run_plan(args: argparse.Namespace) -> int:
    from pipeline.domain.changes import Change, changed_paths, services_for_paths
    from shipline import gitdiff

    manifest = load_manifest(args.manifest)
    changes = [Change(path, path) for path in map(_repository_path, args.paths)]
    if args.from_rev:
        # The commits' differences as the pipeline's GetDifferences gives them (shipline/gitdiff.py):
        # a rename is its old path and its new path, and both paths' services count.
        try:
            changes += gitdiff.differences(ROOT, _commit(args.from_rev), _commit(args.to_rev))
        except gitdiff.GitError as exc:
            raise CommandError(f"git diff {args.from_rev}..{args.to_rev}: {exc}") from None
    elif not changes:
        raise CommandError("give changed paths, or --from REV [--to REV]")
    services = services_for_paths(manifest, changed_paths(changes))
    print("\n".join(services) if services else "(nothing to rebuild)")
    return 0


def run_trigger(args: argparse.Namespace) -> int:
    from pipeline.adapters.eventbridge import put_event
    from pipeline.domain.naming import Target
    from pipeline.domain.requests import BUILD_REQUESTED, SOURCE, BuildRequest

    manifest = load_manifest(args.manifest)
    services = tuple(manifest.service(name).name for name in args.service) or None
    commit = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{args.ref}^{{commit}}", check=False)
    if not commit and not _git("check-ref-format", "--branch", args.ref, check=False):
        # What the event would carry is a branch git would refuse: say so here, not on the bus.
        raise CommandError(f"--ref '{one_line(args.ref)}': not a commit in this repository, nor a branch name")
    source = {"commit": commit} if commit else {"branch": args.ref}
    request = BuildRequest(project=manifest.project.name, environment=args.environment, services=services,
                           trigger="request", requestedBy=f"shipline trigger ({os.environ.get('USER', 'cli')})",
                           force=args.force, **source)
    bus = Target(manifest.project.name, args.environment, "", "").requests_bus()
    if args.dry_run:
        print(json.dumps({"source": SOURCE, "detail-type": BUILD_REQUESTED, "eventBusName": bus,
                          "detail": request.detail()}, indent=2))
        return 0
    _use_endpoint(args.endpoint_url)
    event_id = put_event(SOURCE, BUILD_REQUESTED, request.detail(), bus=bus)
    which = ", ".join(services) if services else "all services"
    print(f"Build Requested for {which} at {commit[:7] if commit else args.ref} (event {event_id})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from pipeline.adapters.clients import client

    _use_endpoint(args.endpoint_url)
    manifest = load_manifest(args.manifest)
    table = args.table or _stack_output(client("cloudformation"), args.stack or f"shipline-{args.environment}",
                                        "LedgerTableName")
    print_status(statuses(table, manifest, args.environment), as_json=args.json)
    return 0


def statuses(table: str, manifest: Any, environment: str, dynamodb: Any | None = None) -> list:
    """Each manifest service's status, from its ledger partition."""
    from pipeline.adapters import ledger
    from pipeline.domain.status import partition, summarize

    return [summarize(name, ledger.history(table, partition(manifest.project.name, environment, name),
                                           dynamodb=dynamodb))
            for name in manifest.names]


def print_status(statuses: list, as_json: bool) -> None:
    if as_json:
        print(json.dumps([s.as_dict() for s in statuses], indent=2))
        return
    rows = [[s.service, s.revision or "-", s.tag or "-", (s.digest or "-")[:19], s.scan or "-",
             f"{s.build or '-'} {s.build_commit or ''}".strip(), _when(s.registered_at or s.scanned_at or s.built_at)]
            for s in statuses]
    headers = ["service", "revision", "tag", "digest", "scan", "last build", "when"]
    if any(s.running_revision for s in statuses):  # Rollout on: what the ECS service runs, beside it
        headers.insert(2, "running")
        for row, s in zip(rows, statuses, strict=True):
            row.insert(2, f"{s.running_revision or '-'}" + (f" ({s.deployment.lower()})" if s.deployment else ""))
    print(output.table(headers, rows))


def _checkout_manifest(args: argparse.Namespace, command: str) -> Any:
    """The manifest a local account runs with: the checkout's own services.toml, which its
    functions deploy with and its builds read. Another `--manifest` is refused, not ignored."""
    if Path(args.manifest).resolve() != DEFAULT_MANIFEST_PATH.resolve():
        raise CommandError(f"--manifest {args.manifest}: {command} runs the checkout's own services.toml "
                           f"({DEFAULT_MANIFEST_PATH.resolve()}), which its functions deploy with; edit that file "
                           "instead (--manifest applies to manifest, plan, trigger, status, rollback, promote and "
                           "approve)")
    return load_manifest(args.manifest)


def run_demo(args: argparse.Namespace) -> int:
    from shipline.local.account import LocalAccount
    from shipline.local.inputs import parse_findings

    manifest = _checkout_manifest(args, "demo")
    to_commit = _commit(args.to_rev)
    from_commit = _commit(args.from_rev) if args.from_rev else None
    found = parse_findings(args.findings, manifest.names)
    progress = None if args.json else _progress_printer()
    started = time.monotonic()
    with LocalAccount(environment=args.environment, endpoint_url=args.endpoint_url, findings=found,
                      on_progress=progress, **_account_options(args, manifest)) as account:
        assert account.stack is not None
        repository = account.stack.parameters["CodeCommitRepositoryName"]
        branch = account.stack.parameters["TrackedBranch"]
        detail: dict[str, Any] = {
            "event": "referenceUpdated" if from_commit else "referenceCreated", "repositoryName": repository,
            "referenceType": "branch", "referenceName": branch, "referenceFullName": f"refs/heads/{branch}",
            "commitId": to_commit, "callerUserArn": "arn:aws:iam::123456789012:user/shipline-demo",
        }
        if from_commit:
            detail["oldCommitId"] = from_commit
        if progress:
            what = (f"{from_commit[:7]}..{to_commit[:7]}" if from_commit
                    else f"{to_commit[:7]} (new branch: every service)")
            print(f"shipline demo: a CodeCommit push of {branch} at {what}, environment {args.environment}\n")
        account.put_event({"source": "aws.codecommit", "detail-type": "CodeCommit Repository State Change",
                           "resources": [f"arn:aws:codecommit:us-east-1:123456789012:{repository}"], "detail": detail})
        account.run()
        report = account.report()
        ledger_statuses = statuses(account.stack.refs["LedgerTable"], manifest, account.environment,
                                   dynamodb=account.client("dynamodb"))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print()
        print(output.summary(report))
        print("\nshipline status (from the ledger):")
        print_status(ledger_statuses, as_json=False)
        print(f"\nDone in {time.monotonic() - started:.1f}s: {len(report['repositories'])} repositories, "
              f"{len(report['builds'])} builds, {len(report['images'])} images, "
              f"{len(report['taskDefinitions'])} revisions, {len(report['notifications'])} notifications, "
              f"{len(report['errors'])} errors.")
    return 1 if report["errors"] else 0


def run_local(args: argparse.Namespace) -> int:
    from shipline.local.account import DEFAULT_WEBHOOK_SECRET, LocalAccount, prepare_for
    from shipline.local.inputs import InputError, parse_findings, read_input

    manifest = _checkout_manifest(args, "local run")
    found = parse_findings(args.findings, manifest.names)
    problems: list[str] = []
    ignored: list[str] = []
    inputs = []
    for path in args.events:
        try:
            inputs.append(read_input(path))
        except InputError as exc:
            problems.append(str(exc))
    progress = None if args.json else _progress_printer()
    with LocalAccount(environment=args.environment, endpoint_url=args.endpoint_url, findings=found,
                      webhook_secret=args.webhook_secret or DEFAULT_WEBHOOK_SECRET, on_progress=progress,
                      github_token=args.github_token,
                      **_account_options(args, manifest)) as account:
        for item in inputs:
            if item.kind == "function-url":
                account.invoke_webhook(item.body)
            else:
                prepare_for(account, item.body)
                account.put_event(item.body)
            if not account.run() and item.kind == "eventbridge":
                source, detail_type = item.body["source"], item.body["detail-type"]
                if account.listens_for(source, detail_type):
                    ignored.append(f"{item.path}: filtered out by the event patterns in template.yaml")
                else:
                    problems.append(f"{item.path}: nothing handles detail-type {detail_type!r} from {source!r} "
                                    "(no rule in template.yaml names it)")
        report = account.report()
    report["errors"] = problems + report["errors"]
    report["ignored"] = ignored
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(output.summary(report))
    for problem in problems:
        error(problem)
    return 1 if report["errors"] else 0


def run_serve(args: argparse.Namespace) -> int:
    from shipline.local.account import LocalAccount
    from shipline.local.inputs import parse_findings

    manifest = _checkout_manifest(args, "local serve")
    found = parse_findings(args.findings, manifest.names)
    with LocalAccount(environment=args.environment, findings=found, on_progress=_progress_printer(),
                      **_account_options(args, manifest)) as account:
        print(f"\nLocal account up at {account.endpoint} (account 123456789012, region us-east-1).")
        print(f"  export AWS_ENDPOINT_URL={account.endpoint} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
              "AWS_DEFAULT_REGION=us-east-1")
        target = f"--endpoint-url {account.endpoint}" + (
            f" --environment {account.environment}" if account.environment != "dev" else "")
        assert account.stack is not None
        print(f"  stack {account.stack.name} (its outputs: aws cloudformation describe-stacks)")
        print(f"  shipline trigger {target} --service langgraph")
        print(f"  shipline status {target}")
        print("Events put on the bus are delivered to the functions as they arrive. Ctrl-C stops it.", flush=True)
        try:
            while True:
                account.run()
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nstopped")
    return 0


# ---------------------------------------------------------------------------- helpers
def _endpoint_url(value: str) -> str:
    """--endpoint-url: an http(s) URL with a host, as botocore and urllib3 take it (checked here,
    so a typo is a usage error, not botocore's ValueError traceback on the first call)."""
    from urllib.parse import urlsplit

    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    try:
        valid = urlsplit(value).scheme in ("http", "https") and bool(
            is_valid_endpoint_url(value) or is_valid_ipv6_endpoint_url(value))
    except ValueError:  # urlsplit: an unbalanced [ or a bad port
        valid = False
    if not valid:
        raise argparse.ArgumentTypeError(f"'{value}' is not an http(s) URL, such as http://127.0.0.1:4566")
    return value


def _repository_path(value: str) -> str:
    """A changed path for `plan`, read as the planner reads one (`normalised_path`: "./", "//" and
    a leading "/" are the repository's root). A path into this checkout (/home/me/repo/docker/x,
    what a shell's tab completion gives) is that file's path in the repository; one that leaves
    the repository, or is its root, is refused: it would match no service and read as "nothing
    to rebuild"."""
    from pipeline.domain.changes import normalised_path

    given = Path(value)
    if given.is_absolute():
        resolved = given.resolve()
        if resolved.is_relative_to(ROOT):
            value = resolved.relative_to(ROOT).as_posix() + ("/" if value.endswith("/") else "")
        elif given.is_relative_to(ROOT) or resolved.exists():  # $PWD/../x, /etc/hosts: outside this checkout
            raise CommandError(f"'{one_line(value)}': not a file or folder inside the repository ({ROOT})")
    path = normalised_path(value)
    if not path or path == ".." or path.startswith("../"):
        raise CommandError(f"'{one_line(value)}': not a file or folder inside the repository")
    return path


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a positive whole number")
    return int(value)


def _account_options(args: argparse.Namespace, manifest: Any) -> dict[str, Any]:
    """The local account's options a command line gives (checked: one error line each)."""
    from shipline.local.model import parse_overrides

    for service in args.failing_scans + args.fail_deployment:
        manifest.service(service)  # UnknownServiceError names it
    parameters = parse_overrides(args.parameter_overrides)
    if parameters.get("Environment", args.environment) != args.environment:
        raise CommandError(f"--parameter-overrides Environment={parameters['Environment']} disagrees with "
                           f"--environment {args.environment}: give the environment once")
    return {"parameters": parameters, "scanning": args.scanning,
            "failing_scans": set(args.failing_scans), "codebuild_quota": args.codebuild_quota, "chaos": args.chaos,
            "failing_deployments": set(args.fail_deployment)}


def _progress_printer() -> Callable[[float, str, str], None]:
    def show(at: float, actor: str, text: str) -> None:
        print(f"  {at:5.2f}s  {actor:<22} {text}", flush=True)

    return show


def _use_endpoint(endpoint: str | None) -> None:
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        # An emulator takes any credentials; give it some when the shell has none.
        if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
            os.environ.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        from pipeline.adapters import clients

        clients.reset()


def _stack_output(cloudformation: Any, stack: str, key: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(f"cannot read stack {stack} ({exc}); pass --table or --stack") from None
    for item in outputs:
        if item["OutputKey"] == key:
            return str(item["OutputValue"])
    raise CommandError(f"stack {stack} has no output {key}; pass --table")


def _commit(revision: str) -> str:
    """A user-given revision as a full commit id. It never reaches git as an option
    (`--end-of-options`): `--from=--output=FILE` is a revision git cannot find, not a flag."""
    found = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}", check=False)
    if not found:
        raise CommandError(f"'{one_line(revision)}' is not a commit in this repository")
    return found


def _git(*args: str, check: bool = True) -> str:
    result = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    if result.returncode and check:
        raise CommandError(f"git {' '.join(args)}: {result.stderr.strip() or 'failed'}")
    return result.stdout.strip() if result.returncode == 0 else ""


def _when(stamp: str | None) -> str:
    return (stamp or "-").replace("T", " ")[:19]


if __name__ == "__main__":
    sys.exit(main())
