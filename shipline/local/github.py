"""The stand-in for GitHub's REST API: the few read calls build avoidance makes, served on
loopback from a git history (this checkout for the local account, an in-memory one in tests).
No internet: the build starter's `pipeline.adapters.github_api` is pointed at it while the
emulation is installed.

It answers as GitHub's REST API reference documents ("Git trees", "Git blobs", "Git
references", "Rate limits for the REST API", "Getting started with the REST API"):
- `GET /repos/{owner}/{repo}/git/trees/{tree_sha}[?recursive=<any>]`: `{sha, url, tree: [{path,
  mode, type, sha, size?, url}], truncated}`; `tree_sha` a commit, a branch or a tree id; a
  recursive listing past `max_entries` is cut there with `truncated: true`;
- `GET /repos/{owner}/{repo}/git/blobs/{file_sha}`: `{sha, node_id, size, url, content, encoding:
  "base64"}`;
- `GET /repos/{owner}/{repo}/git/ref/heads/{branch}`: `{ref, node_id, url, object: {type:
  "commit", sha, url}}`;
- 404 `{"message": "Not Found", "documentation_url": ..., "status": "404"}` for anything it does
  not hold, and for a private repository asked without its token; 401 "Bad credentials" for a
  token it does not know; 403 without a User-Agent; 400 for an `X-GitHub-Api-Version` it does not have;
- the primary rate limit, per token (or per address without one): `x-ratelimit-limit`,
  `-remaining`, `-used`, `-reset` and `-resource: core` on every answer, and once it is spent 403
  `{"message": "API rate limit exceeded ..."}` with `x-ratelimit-remaining: 0`.
A tree or blob id is known once a listing named it (GitHub knows every object; this stand-in
knows those of the commits listed so far).
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from moto.core.exceptions import JsonRESTError

from shipline.local.codecommit import GitHistory, History

DOCS = "https://docs.github.com/rest"
UNAUTHENTICATED_LIMIT = 60  # requests an hour per address
AUTHENTICATED_LIMIT = 5_000  # requests an hour per token
MAX_ENTRIES = 100_000  # a recursive tree's entries before it is truncated
API_VERSIONS = ("2022-11-28", "2026-03-10")  # the REST API versions GitHub answers ("API Versions")


@dataclass
class StandInRepository:
    history: History
    token: str = ""  # "" = public; otherwise private, readable with this token only


@dataclass
class _Entry:
    path: str
    mode: str
    kind: str  # blob, tree, commit
    sha: str


@dataclass
class GitHubApi:
    """Repositories by `owner/name` (lower case, as GitHub matches them), with the rate limits and
    limits GitHub applies; `requests` records each request as (path, "token" or "anonymous")."""

    repositories: dict[str, StandInRepository] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=lambda: {"anonymous": UNAUTHENTICATED_LIMIT,
                                                            "token": AUTHENTICATED_LIMIT})
    max_entries: int = MAX_ENTRIES
    requests: list[tuple[str, str]] = field(default_factory=list)
    _used: dict[str, int] = field(default_factory=dict)
    _reset: int = field(default_factory=lambda: int(time.time()) + 3600)
    _objects: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (repo, id) -> (commit, path)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def add(self, full_name: str, history: History, token: str = "") -> None:
        self.repositories[full_name.lower()] = StandInRepository(history, token)

    @property
    def url(self) -> str:
        assert self._server is not None, "the GitHub API stand-in is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------------ the API
    def answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, dict, dict]:
        """(status, body, headers) for one GET."""
        if not headers.get("user-agent"):
            return 403, {"message": "Request forbidden by administrative rules. Please make sure your request has a "
                                    "User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-"
                                    "rest-api#user-agent-required)."}, {}
        version = headers.get("x-github-api-version")
        if version is not None and version not in API_VERSIONS:
            return 400, {"message": f"Unsupported 'X-GitHub-Api-Version' header: {version}", "documentation_url":
                         f"{DOCS}/overview/api-versions"}, {}
        given = headers.get("authorization", "")
        token = given.split(" ", 1)[1] if given.lower().startswith(("bearer ", "token ")) else ""
        known_tokens = {r.token for r in self.repositories.values() if r.token}
        if given and token not in known_tokens:
            return 401, _error("Bad credentials", 401), {}
        who = "token" if token else "anonymous"
        with self._lock:
            self.requests.append((path, who))
            key = token or "anonymous"
            used = self._used.get(key, 0)
            limit = self.limits[who]
            rate = {"x-ratelimit-limit": str(limit), "x-ratelimit-reset": str(self._reset),
                    "x-ratelimit-resource": "core"}
            if used >= limit:
                return 403, {"message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                                        "Authenticated requests get a higher rate limit. Check out the documentation "
                                        "for more details.)" if not token else "API rate limit exceeded for user.",
                             "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api"}, {
                    **rate, "x-ratelimit-remaining": "0", "x-ratelimit-used": str(used)}
            self._used[key] = used + 1
            rate |= {"x-ratelimit-remaining": str(limit - used - 1), "x-ratelimit-used": str(used + 1)}
        status, body = self._route(path, query, token)
        return status, body, rate

    def _route(self, path: str, query: dict[str, list[str]], token: str) -> tuple[int, dict]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if len(parts) < 5 or parts[0] != "repos" or parts[3] != "git":
            return 404, _error("Not Found", 404)
        full_name = f"{parts[1]}/{parts[2]}".lower()
        repository = self.repositories.get(full_name)
        if repository is None or (repository.token and token != repository.token):
            return 404, _error("Not Found", 404)  # a private repository is not found without its token
        base = f"{self.url}/repos/{full_name}"
        rest = parts[4:]
        try:
            if rest[0] == "trees" and len(rest) == 2:
                return 200, self._tree(full_name, repository.history, rest[1], "recursive" in query, base)
            if rest[0] == "blobs" and len(rest) == 2:
                return self._blob(full_name, repository.history, rest[1], base)
            if rest[:2] == ["ref", "heads"] and len(rest) >= 3:
                branch = "/".join(rest[2:])
                head = repository.history.head(branch)
                return 200, {"ref": f"refs/heads/{branch}", "node_id": "", "url": f"{base}/git/refs/heads/{branch}",
                             "object": {"type": "commit", "sha": head, "url": f"{base}/git/commits/{head}"}}
        except JsonRESTError:
            return 404, _error("Not Found", 404)
        return 404, _error("Not Found", 404)

    def _tree(self, repo: str, history: History, tree_ish: str, recursive: bool, base: str) -> dict:
        with self._lock:
            known = self._objects.get((repo, tree_ish))
        if known is not None:
            commit, folder = known
        else:
            commit, folder = _commit_of(history, tree_ish), ""
        sha, entries = _listing(history, commit, folder, recursive)
        with self._lock:
            for entry in entries:
                self._objects[(repo, entry.sha)] = (commit, f"{folder}/{entry.path}".strip("/"))
        truncated = recursive and len(entries) > self.max_entries
        shown = entries[:self.max_entries] if truncated else entries
        tree = []
        for e in shown:
            item = {"path": e.path, "mode": e.mode, "type": e.kind, "sha": e.sha}
            if e.kind == "blob":
                item["url"] = f"{base}/git/blobs/{e.sha}"
            elif e.kind == "tree":
                item["url"] = f"{base}/git/trees/{e.sha}"
            tree.append(item)
        return {"sha": sha, "url": f"{base}/git/trees/{sha}", "tree": tree, "truncated": truncated}

    def _blob(self, repo: str, history: History, sha: str, base: str) -> tuple[int, dict]:
        with self._lock:
            known = self._objects.get((repo, sha))
        if known is None:
            return 404, _error("Not Found", 404)
        _id, content, _executable = history.file(*known)
        return 200, {"sha": sha, "node_id": "", "size": len(content), "url": f"{base}/git/blobs/{sha}",
                     "content": base64.encodebytes(content).decode(), "encoding": "base64"}

    # ------------------------------------------------------------------ the server
    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                status, body, headers = api.answer(parts.path, parse_qs(parts.query, keep_blank_values=True),
                                                   {k.lower(): v for k, v in self.headers.items()})
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json; charset=utf-8", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True, name="github-api").start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _error(message: str, status: int) -> dict:
    return {"message": message, "documentation_url": DOCS, "status": str(status)}


def _commit_of(history: History, tree_ish: str) -> str:
    """The commit a tree_sha names: a branch, or a commit id (JsonRESTError otherwise)."""
    try:
        return history.head(tree_ish)
    except JsonRESTError:
        return history.resolve(tree_ish)


_MODES = {"tree": "040000", "link": "120000", "commit": "160000"}


def _listing(history: History, commit: str, folder: str, recursive: bool) -> tuple[str, list[_Entry]]:
    """A folder's tree id and entries at a commit, with every entry below it when `recursive`
    (paths from the folder, parents before their children, as git lists them)."""
    if isinstance(history, GitHistory) and recursive:  # one `git ls-tree -r -t` for the whole checkout
        return _git_listing(history, commit, folder)
    tree_id, entries = history.folder(commit, folder)
    found: list[_Entry] = []
    for entry in entries:
        kind = "blob" if entry.kind == "link" else entry.kind
        mode = _MODES.get(entry.kind, "100755" if entry.executable else "100644")
        found.append(_Entry(entry.name, mode, kind, entry.object_id))
        if recursive and entry.kind == "tree":
            _sub, below = _listing(history, commit, f"{folder}/{entry.name}".strip("/"), True)
            found += [_Entry(f"{entry.name}/{e.path}", e.mode, e.kind, e.sha) for e in below]
    return tree_id, found


def _git_listing(history: GitHistory, commit: str, folder: str) -> tuple[str, list[_Entry]]:
    spec = f"{commit}:{folder}" if folder else f"{commit}^{{tree}}"
    tree_id = subprocess.run(["git", "-C", str(history.path), "rev-parse", "--verify", "--quiet", "--end-of-options",
                              spec], capture_output=True, text=True, check=False).stdout.strip()
    if not tree_id:
        raise JsonRESTError("FolderDoesNotExistException", f"{spec} does not exist")
    listing = subprocess.run(["git", "-C", str(history.path), "ls-tree", "-r", "-t", "-z", tree_id],
                             capture_output=True, check=True).stdout.decode("utf-8", "replace")
    found = []
    for line in filter(None, listing.split("\0")):
        meta, _, path = line.partition("\t")
        mode, kind, object_id = meta.split()
        found.append(_Entry(path, "040000" if kind == "tree" else mode, kind, object_id))
    return tree_id, found
