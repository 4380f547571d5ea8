"""GitHub push webhooks: signature check, the decision what a delivery leads to, and the
builds an accepted push needs.

Status codes: 401 missing/wrong signature, 400 a signed body it cannot use, 200 "ignored"
(ping, other event, other repository, untracked branch, deleted branch), 202 accepted (the
webhook has queued the push's build starts, or no service changed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.domain.builds import BuildPlan, plan_builds
from pipeline.domain.manifest import Manifest
from pipeline.domain.naming import NULL_COMMIT, Target
from pipeline.domain.quoting import one_line, shown

# GitHub lists at most this many commits in a push payload; a full list may be cut short.
GITHUB_MAX_COMMITS = 2048
# GitHub lists at most 3,000 files per commit, with no flag when it cuts the list: a commit
# listing that many may list fewer than it changed, so it rebuilds every service.
GITHUB_MAX_FILES = 3000
_SHA = re.compile(r"^[0-9a-fA-F]{40}$")


def signature_is_valid(secret: bytes, body: bytes, header: str | None) -> bool:
    """X-Hub-Signature-256: HMAC-SHA256 of the raw body, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def sign(secret: bytes, body: bytes) -> str:
    """The header GitHub would send for this body (for tests, the CLI and the local account)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class _Commit(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    id: str
    added: list[str] | None = None
    removed: list[str] | None = None
    modified: list[str] | None = None

    def paths(self) -> list[str] | None:
        if self.added is None or self.removed is None or self.modified is None:
            return None
        return [*self.added, *self.removed, *self.modified]


class _Push(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    ref: str
    before: str
    after: str
    created: bool = False
    deleted: bool = False
    forced: bool = False
    commits: list[_Commit] | None = None
    repository: dict = {}
    pusher: dict | None = None


class Delivery(BaseModel):
    """What the webhook keeps of an accepted push: enough to plan its builds (and log who pushed)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)
    delivery: str  # X-GitHub-Delivery
    commit: str
    paths: tuple[str, ...] | None  # None: the payload cannot tell: every service
    pusher: str = ""



@dataclass(frozen=True)
class WebhookDecision:
    status: int
    message: str  # one printable line: whatever the delivery echoes is escaped here
    delivery: Delivery | None = None  # an accepted push, its builds still to be queued
    services: tuple[str, ...] | None = None  # the builds queued for an accepted push (none: no service changed)

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", one_line(self.message))

    def response(self) -> dict:
        body: dict[str, object] = {"message": self.message}
        if self.services is not None:
            body["services"] = list(self.services)
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body),
        }


def decide(*, branch: str, secret: bytes, body: bytes, headers: dict[str, str],
           repository_url: str = "") -> WebhookDecision:
    """What one webhook delivery leads to. Pure: the caller plans and queues the push it accepts
    (`plan_push`, then `queued`), all before GitHub's 10 s are up.

    Cheap whatever the payload's size: the signature, the event, the branch, the repository,
    then one pass over the listed paths."""
    headers = {key.lower(): value for key, value in headers.items()}
    if not signature_is_valid(secret, body, headers.get("x-hub-signature-256")):
        return WebhookDecision(401, "signature missing or wrong")
    event = headers.get("x-github-event", "")
    if event == "ping":
        return WebhookDecision(200, "ignored: ping")
    if event != "push":
        return WebhookDecision(200, f"ignored: event {shown(event) or '(none)'} is not a push")
    try:
        push = _Push.model_validate(_payload(body, headers.get("content-type", "")))
    except (ValueError, ValidationError, RecursionError) as exc:
        return WebhookDecision(400, f"malformed push payload: {_first_error(exc)}")

    if repository_url and not _same_repository(repository_url, push.repository):
        name = push.repository.get("full_name") or push.repository.get("clone_url") or "(none)"
        return WebhookDecision(200, f"ignored: repository {shown(name)} is not {repository_url}")
    tracked = f"refs/heads/{branch}"
    if push.ref != tracked:
        return WebhookDecision(200, f"ignored: {shown(push.ref)} is not the tracked branch {tracked}")
    if push.deleted or push.after == NULL_COMMIT:
        return WebhookDecision(200, "ignored: branch deleted")
    if not _SHA.match(push.after):
        return WebhookDecision(400, "malformed push payload: after is not a full commit SHA")

    paths = _changed_paths(push)
    identity = headers.get("x-github-delivery") or hashlib.sha256(body).hexdigest()
    delivery = Delivery(delivery=identity, commit=push.after.lower(), paths=tuple(paths) if paths is not None else None,
                        pusher=str((push.pusher or {}).get("name", "")))
    return WebhookDecision(202, f"accepted: push of {push.after[:7]} as delivery {shown(identity)}", delivery)


def plan_push(manifest: Manifest, target: Target, delivery: Delivery) -> tuple[BuildPlan, ...]:
    """The builds an accepted push needs, planned as the planner plans any trigger: the pushed
    commit, for each service whose paths it changed (every service when the payload cannot tell);
    none when it changed no service's paths."""
    return plan_builds(manifest, target, source_version=delivery.commit, trigger="github",
                       changed_paths=delivery.paths)


def queued(delivery: Delivery, services: tuple[str, ...]) -> WebhookDecision:
    """The answer to an accepted push once its build starts are queued: what they are."""
    if not services:
        return WebhookDecision(202, f"no service changed: push of {delivery.commit[:7]} builds nothing", delivery, ())
    return WebhookDecision(202, f"accepted: push of {delivery.commit[:7]}, builds queued: {', '.join(services)}",
                           delivery, services)


def _same_repository(url: str, repository: dict) -> bool:
    """The payload's repository is the one configured (any of the URLs GitHub gives for it)."""
    def norm(value: object) -> str:
        return str(value or "").strip().lower().removesuffix("/").removesuffix(".git")

    wanted = norm(url)
    return any(norm(repository.get(key)) == wanted for key in ("clone_url", "html_url", "url", "git_url", "ssh_url"))


def _payload(body: bytes, content_type: str) -> object:
    text = body.decode("utf-8")
    if content_type.strip().lower().startswith("application/x-www-form-urlencoded"):  # media types: any case
        values = parse_qs(text).get("payload")
        if not values:
            raise ValueError("form body has no payload field")
        text = values[0]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # int() past Python's digit limit: its message advises a Python setting
        raise ValueError("a number in the body has more digits than can be read") from None


def _changed_paths(push: _Push) -> list[str] | None:
    """The pushed paths, or None when the payload cannot tell (rebuild everything)."""
    if push.commits is None or push.created or push.forced:
        return None
    if len(push.commits) >= GITHUB_MAX_COMMITS:
        return None
    paths: list[str] = []
    for commit in push.commits:
        listed = commit.paths()
        if listed is None or len(listed) >= GITHUB_MAX_FILES:
            return None
        paths.extend(listed)
    return paths


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(shown(part, 40) for part in error['loc']) or 'body'}: {error['msg']}"
    if isinstance(exc, UnicodeDecodeError):
        return "body is not UTF-8"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).splitlines()[0]
