"""GitHub's REST API: what a commit holds, and a branch's head, read before a build.

GitHub's object ids are git's, so a commit's tree gives the same tree and blob ids as
CodeCommit's GetFolder (and `git rev-parse <commit>:<path>`): the build inputs hash the same on
either provider. The calls (GitHub REST API reference, "Git trees", "Git blobs", "Git references"):
- `GET /repos/{owner}/{repo}/git/trees/{tree_sha}?recursive=1`: `tree_sha` is a tree's SHA or a
  commit's (its root tree); `tree[]` holds `{path, mode, type: blob|tree|commit, sha}`, and
  `truncated` is true past 100,000 entries or 7 MB, when the tree is to be read one subtree at a
  time, without `recursive`;
- `GET /repos/{owner}/{repo}/git/blobs/{file_sha}`: `{content, encoding: "base64"}`;
- `GET /repos/{owner}/{repo}/git/ref/heads/{branch}`: `{object: {sha, type: "commit"}}`.
Each request sends `Accept: application/vnd.github+json`, `X-GitHub-Api-Version`, a `User-Agent`
(GitHub refuses a request without one) and, given a token, `Authorization: Bearer <token>`.
GitHub answers 404 `{"message": "Not Found"}` for what does not exist and for a private
repository the caller may not see; 401 for a bad token; 403 or 429 when a rate limit is spent
(`x-ratelimit-remaining: 0` and `x-ratelimit-reset`: 60 requests an hour per address without a
token, 5,000 with one; or a secondary limit, with `retry-after`); 409 for an empty repository.

Every failure is a GitHubApiError, an InputsUnknownError: the caller builds, as it would
without build avoidance. The API root is github.com's, a GitHub Enterprise Cloud host's
(`api.<host>`), or a GitHub Enterprise Server's (`https://<host>/api/v3`), from the repository's
clone URL; the local account points API_URL at its stand-in.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.domain.inputs import InputsUnknownError, TreeEntry

API_URL: str | None = None  # every repository's API root, when set (the local account's stand-in)
API_VERSION = "2022-11-28"
USER_AGENT = "shipline-build-starter"
TIMEOUT_SECONDS = 5.0
SECRET_MAX_AGE = 300  # seconds a fetched token is reused; a rotated token applies within this
_HTTPS = re.compile(r"^https?://(?:[^@/]+@)?([^/:]+)(?::\d+)?/([^/]+)/([^/]+?)(?:\.git)?/?$", re.IGNORECASE)
_SSH = re.compile(r"^(?:ssh://)?git@([^/:]+)[:/]([^/]+)/([^/]+?)(?:\.git)?/?$", re.IGNORECASE)
_SHA = re.compile(r"^[0-9a-f]{40}$")


class GitHubApiError(InputsUnknownError):
    """GitHub's API did not answer what was asked (not found, no access, rate limited, out of
    reach): the inputs are unknown, and the service is built."""


@dataclass(frozen=True)
class Repository:
    """A GitHub repository, as its clone URL names it."""

    host: str
    owner: str
    name: str

    @property
    def api(self) -> str:
        """The repository's API root (`.../repos/<owner>/<name>`)."""
        if API_URL:
            root = API_URL.rstrip("/")
        elif self.host == "github.com":
            root = "https://api.github.com"
        elif self.host.endswith(".ghe.com"):  # GitHub Enterprise Cloud with data residency
            root = f"https://api.{self.host}"
        else:  # GitHub Enterprise Server
            root = f"https://{self.host}/api/v3"
        return f"{root}/repos/{urllib.parse.quote(self.owner)}/{urllib.parse.quote(self.name)}"


@dataclass(frozen=True)
class Tree:
    """A tree as GitHub lists it: its entries (paths from that tree), and whether the list is whole."""

    sha: str
    entries: tuple[TreeEntry, ...]
    truncated: bool


def repository_of(url: str) -> Repository:
    """The repository a clone URL (https or ssh) names."""
    match = _HTTPS.match(url.strip()) or _SSH.match(url.strip())
    if not match:
        raise GitHubApiError(f"GitHubRepositoryUrl {url!r} is not a repository's clone URL (https://<host>/<owner>/<name>)")
    host, owner, name = match.groups()
    return Repository(host.lower(), owner, name)


def tree(repository: Repository, tree_ish: str, *, recursive: bool, token: str | None = None,
         opener: Any | None = None) -> Tree:
    """A tree (or a commit's root tree), with every entry below it when `recursive`."""
    url = f"{repository.api}/git/trees/{urllib.parse.quote(tree_ish, safe='')}" + ("?recursive=1" if recursive else "")
    body = _get(url, token, opener)
    try:
        entries = tuple(TreeEntry(path=str(e["path"]), kind=e["type"], object_id=str(e["sha"]))
                        for e in body["tree"] if e.get("type") in ("blob", "tree", "commit"))
        return Tree(sha=str(body["sha"]), entries=entries, truncated=bool(body.get("truncated", False)))
    except (KeyError, TypeError) as exc:
        raise GitHubApiError(f"{url}: not a tree ({exc!r})") from None


def blob(repository: Repository, sha: str, *, token: str | None = None, opener: Any | None = None) -> bytes:
    """A blob's content."""
    url = f"{repository.api}/git/blobs/{sha}"
    body = _get(url, token, opener)
    try:
        if body.get("encoding") == "base64":
            return base64.b64decode(str(body["content"]))
        return str(body["content"]).encode()  # "utf-8"
    except (KeyError, binascii.Error) as exc:
        raise GitHubApiError(f"{url}: not a blob ({exc!r})") from None


def branch_head(repository: Repository, branch: str, *, token: str | None = None, opener: Any | None = None) -> str:
    """The commit a branch points at."""
    url = f"{repository.api}/git/ref/heads/{urllib.parse.quote(branch, safe='/')}"
    body = _get(url, token, opener)
    target = body.get("object", {}) if isinstance(body, dict) else {}
    sha = str(target.get("sha", "")) if isinstance(target, dict) else ""
    if not _SHA.match(sha) or target.get("type") != "commit":
        raise GitHubApiError(f"{url}: not a branch's head")
    return sha


def token(secret_arn: str) -> str:
    """The token the secret holds (its value, a personal access token or an installation token),
    read with Powertools parameters and kept for SECRET_MAX_AGE seconds."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        value = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE)
    except GetParameterError as exc:
        raise GitHubApiError(f"the GitHub token in {secret_arn} cannot be read: {exc}") from None
    text = value.decode() if isinstance(value, bytes) else str(value)
    return text.strip()


def _get(url: str, token: str | None, opener: Any | None) -> dict:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
               "User-Agent": USER_AGENT, **({"Authorization": f"Bearer {token}"} if token else {})}
    open_url = opener or urllib.request.urlopen
    try:
        with open_url(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_SECONDS) as reply:
            body = json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        raise GitHubApiError(_refusal(url, exc, token)) from None
    except (OSError, ValueError) as exc:  # no route, timeout, TLS, not JSON
        raise GitHubApiError(f"{url}: {exc}") from None
    if not isinstance(body, dict):
        raise GitHubApiError(f"{url}: an answer that is not an object")
    return body


def _refusal(url: str, exc: urllib.error.HTTPError, token: str | None) -> str:
    """What GitHub's error answer says, in one line."""
    try:
        message = str(json.loads(exc.read()).get("message", ""))
    except (ValueError, AttributeError, OSError):
        message = ""
    headers = exc.headers
    said = f"{url}: GitHub answered {exc.code}" + (f" ({message})" if message else "")
    if exc.code in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        until = datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M:%SZ") if reset.isdigit() else "its reset"
        return (f"{said}: the rate limit of {headers.get('x-ratelimit-limit', '?')} requests an hour is spent until "
                f"{until}" + ("" if token else " (without a token; GitHubTokenSecretArn gives 5,000 an hour)"))
    if exc.code in (403, 429) and headers.get("retry-after"):
        return f"{said}: a secondary rate limit, retry after {headers.get('retry-after')} s"
    if exc.code == 404 and not token:
        return f"{said}: a private repository needs a token (GitHubTokenSecretArn)"
    return said
