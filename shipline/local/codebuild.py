"""The emulated CodeBuild: StartBuild with CodeBuild's limits, and builds that run the
project's buildspec from the source at the requested commit.

What AWS does, and this follows (CodeBuild User Guide, "Run builds", "Quotas", "Build
specification reference", "Build notifications input format reference"):
- A project with a concurrent build limit refuses a build over it. Without one, builds over
  the account's concurrent quota wait in a queue of five times that quota; past it,
  StartBuild fails with AccountLimitExceededException ("Cannot have more than N builds in
  queue for the account"), which botocore does not retry.
- StartBuild's idempotencyToken names one build for five minutes: a repeat within them answers
  that build and starts none; a repeat with other parameters is refused (InvalidInputException:
  AWS documents "a parameter mismatch error", and InvalidInputException is StartBuild's error
  for a bad request); after them the token starts a new build (StartBuild, CodeBuild API
  Reference). Variables named CODEBUILD_* are reserved.
- A build downloads the source at its source version (a commit, or a branch's head) with the
  project's clone depth, reads the buildspec from that source, and runs its phases (see
  buildspec.py) with `docker` and `aws` as stand-ins (see standins/).
- "CodeBuild Build State Change" events carry the build ARN as `build-id`, `current-phase:
  COMPLETED` on a final state, and each phase's status and context in
  `additional-information.phases`.
What it does not do: build logs in CloudWatch, artifacts, caches, VPC, batch builds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.codebuild.responses import CodeBuildResponse
from moto.core.exceptions import JsonRESTError

from shipline.local.buildspec import BuildspecError, PhaseResult, Shell, base_environment, parse_buildspec, run_phases
from shipline.local.patches import Patches
from shipline.local.quotas import DEFAULT_QUOTA, QUEUE_FACTOR
from shipline.local.standins.server import BIN

TOKEN_LIFETIME = 300  # seconds CodeBuild honours a StartBuild idempotencyToken
FINAL = ("SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED")


@dataclass(frozen=True)
class Project:
    name: str
    arn: str
    source_type: str
    location: str
    buildspec: str
    clone_depth: int
    image: str
    compute_type: str
    variables: dict[str, str]
    timeout_minutes: int
    concurrent_limit: int | None
    secrets: dict[str, str] = field(default_factory=dict)  # SECRETS_MANAGER variables: name -> reference


@dataclass
class Build:
    id: str  # project:uuid, as StartBuild returns it
    arn: str
    number: int
    project: Project
    source_version: str
    overrides: dict[str, str]
    initiator: str
    status: str = "QUEUED"  # QUEUED (waiting for a slot), IN_PROGRESS, then a final status
    submitted: float = field(default_factory=time.time)
    started: float = 0.0
    ended: float = 0.0
    commit: str = ""
    phases: list[PhaseResult] = field(default_factory=list)
    exported: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        failed = next((p for p in self.phases if p.status != "SUCCEEDED"), None)
        return f"{failed.phase}: {failed.context}" if failed else ""


class CodeBuildEmulation:
    def __init__(self, *, account: str, region: str, source_root: Path, emit: Callable[[dict, float], None],
                 tools_url: Callable[[], str], quota: int = DEFAULT_QUOTA,
                 note: Callable[[str, str], None] | None = None):
        self.account, self.region = account, region
        self.source_root = source_root
        self.emit = emit
        self.tools_url = tools_url
        self.quota = quota
        self.note = note or (lambda _actor, _text: None)
        self.projects: dict[str, Project] = {}
        self.builds: dict[str, Build] = {}
        self.refused = 0  # StartBuild calls refused for want of room (AccountLimitExceededException)
        self.peak_active = 0  # most builds running or queued at once
        self._tokens: dict[tuple[str, str], tuple[float, dict, Build]] = {}
        self.clock: Callable[[], float] = time.monotonic  # a token's age (a test moves it past TOKEN_LIFETIME)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ moto
    def install(self, patches: Patches) -> None:
        emulation = self
        original_create = CodeBuildResponse.create_project

        def create_project(response: CodeBuildResponse) -> Any:
            result = original_create(response)
            emulation._record_project(response)
            return result

        def start_build(response: CodeBuildResponse) -> Any:
            return emulation.start_build(response)

        def batch_get_builds(response: CodeBuildResponse) -> Any:
            from moto.core.responses import ActionResult

            found = [emulation.describe(b) for i in response._get_param("ids") if (b := emulation.builds.get(i))]
            return ActionResult({"builds": found, "buildsNotFound": [i for i in response._get_param("ids")
                                                                    if i not in emulation.builds]})

        original_delete = CodeBuildResponse.delete_project

        def delete_project(response: CodeBuildResponse) -> Any:
            emulation.projects.pop(response._get_param("name"), None)
            return original_delete(response)

        patches.set(CodeBuildResponse, "create_project", create_project)
        patches.set(CodeBuildResponse, "delete_project", delete_project)
        patches.set(CodeBuildResponse, "start_build", start_build)
        patches.set(CodeBuildResponse, "batch_get_builds", batch_get_builds)

    def _record_project(self, response: CodeBuildResponse) -> None:
        source = response._get_param("source") or {}
        environment = response._get_param("environment") or {}
        name = response._get_param("name")
        limit = response._get_param("concurrentBuildLimit")
        self.projects[name] = Project(
            name=name, arn=f"arn:aws:codebuild:{self.region}:{self.account}:project/{name}",
            source_type=source.get("type", ""), location=source.get("location", ""),
            buildspec=source.get("buildspec", "") or "buildspec.yml", clone_depth=int(source.get("gitCloneDepth") or 0),
            image=environment.get("image", ""), compute_type=environment.get("computeType", ""),
            variables={v["name"]: v.get("value", "") for v in environment.get("environmentVariables", [])
                       if v.get("type", "PLAINTEXT") == "PLAINTEXT"},
            secrets={v["name"]: v.get("value", "") for v in environment.get("environmentVariables", [])
                     if v.get("type") == "SECRETS_MANAGER"},
            timeout_minutes=int(response._get_param("timeoutInMinutes") or 60),
            concurrent_limit=int(limit) if limit not in (None, -1) else None,
        )

    def start_build(self, response: CodeBuildResponse) -> Any:
        from moto.core.responses import ActionResult

        name = response._get_param("projectName")
        project = self.projects.get(name)
        if project is None:
            arn = f"arn:aws:codebuild:{self.region}:{self.account}:project/{name}"
            raise JsonRESTError("ResourceNotFoundException", f"Project cannot be found: {arn}")
        overrides = {v["name"]: v.get("value", "") for v in response._get_param("environmentVariablesOverride") or []}
        reserved = sorted(n for n in overrides if n.startswith("CODEBUILD_"))
        if reserved:
            raise JsonRESTError("InvalidInputException",
                                f"Invalid environment variable name {reserved[0]}: names starting with CODEBUILD_ "
                                "are reserved")
        source_version = response._get_param("sourceVersion") or "refs/heads/main"
        parameters = {"sourceVersion": source_version, "overrides": overrides}
        token = response._get_param("idempotencyToken")
        with self._lock:
            now = self.clock()
            if token and (name, token) in self._tokens and now - self._tokens[(name, token)][0] < TOKEN_LIFETIME:
                _at, given, build = self._tokens[(name, token)]
                if given != parameters:
                    raise JsonRESTError("InvalidInputException",
                                        "Idempotency token was used with different parameters")
                return ActionResult({"build": self.describe(build)})
            active = [b for b in self.builds.values() if b.status not in FINAL]
            mine = [b for b in active if b.project.name == name]  # a project with a limit queues nothing
            if project.concurrent_limit is not None and len(mine) >= project.concurrent_limit:
                self.refused += 1
                raise JsonRESTError("AccountLimitExceededException",
                                    f"Build limit of {project.concurrent_limit} concurrent builds reached for project "
                                    f"{name}")
            if len(active) >= self.quota * (1 + QUEUE_FACTOR):
                self.refused += 1
                queue = self.quota * QUEUE_FACTOR
                raise JsonRESTError("AccountLimitExceededException",
                                    f"Cannot have more than {queue} builds in queue for the account")
            build_id = f"{name}:{uuid.uuid4()}"
            build = Build(build_id, f"arn:aws:codebuild:{self.region}:{self.account}:build/{build_id}",
                          1 + sum(1 for b in self.builds.values() if b.project.name == name), project,
                          source_version, overrides, initiator=response._get_param("initiator") or "shipline")
            self.builds[build_id] = build
            self.peak_active = max(self.peak_active, len(active) + 1)
            if token:
                self._tokens[(name, token)] = (now, parameters, build)
        self.note("CodeBuild", f"{overrides.get('SERVICE', name)}: build queued ({source_version[:12]})")
        return ActionResult({"build": self.describe(build)})

    def describe(self, build: Build) -> dict:
        """The build as BatchGetBuilds and StartBuild return it."""
        return {
            "id": build.id, "arn": build.arn, "buildNumber": build.number, "projectName": build.project.name,
            "buildStatus": build.status if build.status in FINAL else "IN_PROGRESS",
            "currentPhase": "COMPLETED" if build.status in FINAL else ("QUEUED" if build.status == "QUEUED"
                                                                        else "BUILD"),
            "sourceVersion": build.source_version, "resolvedSourceVersion": build.commit or None,
            "initiator": build.initiator, "buildComplete": build.status in FINAL,
            "startTime": build.submitted, **({"endTime": build.ended} if build.ended else {}),
            "environment": {"image": build.project.image, "computeType": build.project.compute_type,
                            "environmentVariables": [{"name": k, "value": v, "type": "PLAINTEXT"}
                                                     for k, v in build.overrides.items()]},
            "phases": [{"phaseType": p.phase, "phaseStatus": p.status, "startTime": p.started, "endTime": p.ended,
                        "contexts": [{"statusCode": p.context.partition(":")[0],
                                      "message": p.context.partition(": ")[2]}] if p.context else []}
                       for p in build.phases],
            "exportedEnvironmentVariables": [{"name": k, "value": v} for k, v in build.exported.items()],
            "logs": {"groupName": f"/aws/codebuild/{build.project.name}", "streamName": build.id.split(":", 1)[1]},
        }

    # ------------------------------------------------------------------ running builds
    def startable(self) -> list[Build]:
        """Queued builds that may start now (CodeBuild does not promise the queue's order)."""
        with self._lock:
            running = sum(1 for b in self.builds.values() if b.status == "IN_PROGRESS")
            ready = [b for b in self.builds.values() if b.status == "QUEUED"][: max(0, self.quota - running)]
            for build in ready:
                build.status, build.started = "IN_PROGRESS", time.time()
            return ready

    def active(self) -> int:
        return sum(1 for b in self.builds.values() if b.status not in FINAL)

    def run(self, build: Build) -> Build:
        """Run one build to its end, then emit its state change."""
        self.emit(self._state_event(build, "IN_PROGRESS"), 0)
        workspace = Path(tempfile.mkdtemp(prefix="shipline-build-"))
        try:
            self._run(build, workspace)
        except Exception as exc:  # a defect of the emulation itself: the build FAULTs, as AWS's would
            build.phases.append(PhaseResult("BUILD", "FAILED", f"CLIENT_ERROR: {type(exc).__name__}: {exc}",
                                            time.time(), time.time()))
            build.status = "FAULT"
        finally:
            shutil.rmtree(workspace, ignore_errors=True)
        build.ended = time.time()
        self.emit(self._state_event(build, build.status), 0)
        return build

    def _secret(self, reference: str) -> str:
        """A SECRETS_MANAGER variable's value: `secret-id:json-key:version-stage:version-id`, the
        secret named by name or ARN (CodeBuild User Guide, "env/secrets-manager"). LookupError
        when the secret, the key or the version is not there: the phase's context is then
        "Secrets Manager Error: ResourceNotFoundException: Secrets Manager can't find the specified
        secret." as CodeBuild's (aws/aws-codebuild-docker-images#475); a missing key's text is the
        local account's own."""
        from moto.secretsmanager.models import secretsmanager_backends

        parts = reference.split(":")
        head, rest = (":".join(parts[:7]), parts[7:]) if reference.startswith("arn:") else (parts[0], parts[1:])
        key, stage, version = (rest + ["", "", ""])[:3]
        try:
            found = secretsmanager_backends[self.account][self.region].get_secret_value(
                secret_id=head, version_id=version or None, version_stage=stage or None)  # type: ignore[arg-type]
        except Exception:
            raise LookupError("ResourceNotFoundException: Secrets Manager can't find the specified secret.") from None
        text = str(found.get("SecretString", ""))
        if not key:
            return text
        try:
            value = json.loads(text)[key]
        except (ValueError, KeyError, TypeError):
            raise LookupError(f"the secret {head} holds no JSON key {key}") from None  # the local account's words
        return value if isinstance(value, str) else json.dumps(value)

    def _run(self, build: Build, workspace: Path) -> None:
        project = build.project
        now = time.time()
        for phase in ("SUBMITTED", "QUEUED", "PROVISIONING"):
            build.phases.append(PhaseResult(phase, "SUCCEEDED", "", build.submitted if phase != "PROVISIONING"
                                            else now, now))
        source = workspace / "src"
        started = time.time()
        commit, problem = self._download(build, source)
        if problem:
            build.phases.append(PhaseResult("DOWNLOAD_SOURCE", "FAILED", f"CLIENT_ERROR: {problem}", started,
                                            time.time()))
            build.status = "FAILED"
            return
        build.commit = commit
        try:
            spec_text = (project.buildspec if "\n" in project.buildspec
                         else (source / project.buildspec).read_text(encoding="utf-8"))
            spec = parse_buildspec(spec_text)
        except (OSError, BuildspecError) as exc:
            message = str(exc) if isinstance(exc, BuildspecError) else f"YAML_FILE_ERROR: stat {project.buildspec}: " \
                                                                       "no such file or directory"
            build.phases.append(PhaseResult("DOWNLOAD_SOURCE", "FAILED", message, started, time.time()))
            build.status = "FAILED"
            return
        try:  # CodeBuild resolves them in DOWNLOAD_SOURCE, and fails that phase when it cannot
            secrets = {name: self._secret(reference) for name, reference in project.secrets.items()}
        except LookupError as exc:
            build.phases.append(PhaseResult("DOWNLOAD_SOURCE", "FAILED", f"Secrets Manager Error: {exc}", started,
                                            time.time()))
            build.status = "FAILED"
            return
        build.phases.append(PhaseResult("DOWNLOAD_SOURCE", "SUCCEEDED", "", started, time.time()))
        if spec.git_credential_helper:  # CodeBuild lets git reach the source repository; here, this checkout
            _git(source, "config", f"url.file://{self.source_root}.insteadOf", project.location)
        home = workspace / "root"
        home.mkdir()
        # The stand-ins start with `#!/usr/bin/env python3`: this interpreter answers that first,
        # rather than a version manager's shim (pyenv's costs a bash script per call).
        interpreter = workspace / "python"
        interpreter.mkdir()
        (interpreter / "python3").symlink_to(os.path.realpath(sys.executable))
        environment = base_environment({
            **spec.variables, **project.variables, **secrets, **build.overrides,
            "PATH": f"{BIN}:{interpreter}:{base_environment({})['PATH']}", "HOME": str(home),
            "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region,
            "CODEBUILD_BUILD_ID": build.id, "CODEBUILD_BUILD_ARN": build.arn,
            "CODEBUILD_BUILD_NUMBER": str(build.number), "CODEBUILD_BUILD_IMAGE": project.image,
            "CODEBUILD_INITIATOR": build.initiator, "CODEBUILD_LOG_PATH": build.id.split(":", 1)[1],
            "CODEBUILD_PROJECT_ARN": project.arn, "CODEBUILD_RESOLVED_SOURCE_VERSION": commit,
            "CODEBUILD_SOURCE_VERSION": build.source_version, "CODEBUILD_SOURCE_REPO_URL": project.location,
            "CODEBUILD_SRC_DIR": str(source), "CODEBUILD_START_TIME": str(int(build.started * 1000)),
            "SHIPLINE_LOCAL_TOOLS": self.tools_url(),
        })
        deadline = time.monotonic() + project.timeout_minutes * 60
        result = run_phases(spec, Shell(source, environment), build.log.append, deadline=deadline)
        build.phases.extend(result.phases)
        build.exported = result.exported
        ran_build = any(p.phase == "BUILD" for p in result.phases)
        end = time.time()
        if ran_build:
            build.phases.append(PhaseResult("UPLOAD_ARTIFACTS", "SUCCEEDED", "", end, end))
        build.phases.append(PhaseResult("FINALIZING", "SUCCEEDED", "", end, end))
        build.status = "SUCCEEDED" if result.succeeded else "TIMED_OUT" if result.timed_out else "FAILED"

    def _download(self, build: Build, into: Path) -> tuple[str, str]:
        """Fetch the source version into `into` (a shallow clone at the project's depth)."""
        version = build.source_version
        wanted = version.removeprefix("refs/heads/")
        commit = _git(self.source_root, "rev-parse", "--verify", "--quiet", "--end-of-options",
                      f"refs/heads/{wanted}^{{commit}}") or (
            _git(self.source_root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{version}^{{commit}}")
            if len(version) == 40 else "")
        if not commit:
            return "", f"reference not found for primary source and source version {version}"
        into.mkdir(parents=True)
        depth = ["--depth", str(build.project.clone_depth)] if build.project.clone_depth else []
        # As CodeBuild clones: `origin` is the project's source location (reachable from a build
        # only with the buildspec's git-credential-helper).
        for args in (("init", "-q"), ("fetch", "-q", *depth, f"file://{self.source_root}", commit),
                     ("checkout", "-q", "FETCH_HEAD"), ("remote", "add", "origin", build.project.location)):
            if subprocess.run(["git", "-C", str(into), *args], capture_output=True, check=False).returncode:
                return "", f"git {args[0]} of {commit} failed"
        return commit, ""

    def _state_event(self, build: Build, status: str) -> dict:
        project = build.project
        stream = build.id.split(":", 1)[1]
        final = status in FINAL
        phases: list[dict[str, Any]] = [{
            "phase-context": [p.context] if p.context else ([] if p.phase in ("SUBMITTED", "QUEUED") else [": "]),
            "start-time": _when(p.started), "end-time": _when(p.ended),
            "duration-in-seconds": int(p.ended - p.started), "phase-type": p.phase, "phase-status": p.status,
        } for p in build.phases]
        if final:
            phases.append({"start-time": _when(build.ended), "phase-type": "COMPLETED"})
        return {
            "version": "0", "source": "aws.codebuild", "detail-type": "CodeBuild Build State Change",
            "account": self.account, "region": self.region, "resources": [build.arn],
            "detail": {
                "build-status": status, "project-name": project.name, "build-id": build.arn,
                "current-phase": "COMPLETED" if final else "SUBMITTED", "current-phase-context": "[: ]",
                "version": "1",
                "additional-information": {
                    # the sample's fields ("Build notifications input format reference"); the
                    # project has no artifacts, so the location is empty
                    "artifact": {"location": ""},
                    "build-number": build.number, "initiator": build.initiator, "build-complete": final,
                    "build-start-time": _when(build.submitted), "source-version": build.source_version,
                    "source": {"type": project.source_type, "location": project.location,
                               "buildspec": project.buildspec if "\n" not in project.buildspec else "(inline)"},
                    "environment": {"image": project.image, "privileged-mode": True,
                                    "compute-type": project.compute_type, "type": "ARM_CONTAINER",
                                    "environment-variables": [{"name": k, "value": v, "type": "PLAINTEXT"}
                                                              for k, v in build.overrides.items()]},
                    "timeout-in-minutes": project.timeout_minutes, "queued-timeout-in-minutes": 480,
                    "logs": {"group-name": f"/aws/codebuild/{project.name}", "stream-name": stream,
                             "deep-link": f"https://console.aws.amazon.com/cloudwatch/home?region={self.region}"
                                          f"#logEvent:group=/aws/codebuild/{project.name};stream={stream}"},
                    "phases": phases,
                },
            },
        }


def _when(stamp: float) -> str:
    """CodeBuild's event time format: "Sep 1, 2017 4:12:29 PM"."""
    moment = datetime.fromtimestamp(stamp or time.time(), UTC)
    return f"{moment:%b} {moment.day}, {moment.year} {moment.hour % 12 or 12}:{moment:%M:%S %p}"


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""

