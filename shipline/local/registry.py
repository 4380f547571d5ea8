"""The stand-in for the public registries base images come from (Docker Hub, public.ecr.aws...):
which digest each tag names now, and a test may move a tag.

It answers as the OCI distribution API does over HTTP, on loopback (the build starter's
`pipeline.adapters.registry` is pointed at it while the emulation is installed):
- `HEAD /<host>/v2/<repository>/manifests/<tag>` without a token: 401, with
  `WWW-Authenticate: Bearer realm="<this server>/<host>/token",service="<host>",scope="repository:<repository>:pull"`;
- `GET /<host>/token?service=...&scope=...`: `{"token": ...}` for that scope (anonymous pull);
- the HEAD again with `Authorization: Bearer <token>` for its scope: 200 and the digest in
  `Docker-Content-Digest`, when the `Accept` header names the type stored (an index here, as
  multi-platform images are); 404 MANIFEST_UNKNOWN for a tag it does not hold.
It holds only the images this repository's Dockerfiles name: no internet, no other image.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
# The base images named by tag only in this repository and its test repositories.
KNOWN = ("registry-1.docker.io/langfuse/langfuse:2.95.11", "public.ecr.aws/docker/library/busybox:1.36",
         "registry-1.docker.io/library/python:3.13-slim-bookworm")


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class BaseImageRegistry:
    """Tag -> digest per `<host>/<repository>:<tag>`; `move` points a tag at a new digest."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {name: _digest(name) for name in KNOWN}
        self.lookups: list[str] = []  # each answered HEAD, as "<host>/<repository>:<tag>"
        self._secret = secrets.token_hex(8)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def move(self, name: str, digest: str | None = None) -> str:
        """Point `<host>/<repository>:<tag>` at another digest (a new one unless given), as an
        upstream release does; returns it."""
        with self._lock:
            moved = digest or _digest(f"{name}#{len(self.lookups)}#{secrets.token_hex(4)}")
            self.tags[name] = moved
            return moved

    def token_for(self, scope: str) -> str:
        return hashlib.sha256(f"{self._secret}:{scope}".encode()).hexdigest()

    @property
    def url(self) -> str:
        """The API root of every registry host: `<url>/<host>`."""
        assert self._server is not None, "the stand-in registry is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                host, _, rest = parts.path.lstrip("/").partition("/")
                if rest != "token":
                    return self._answer(404, {"errors": [{"code": "NOT_FOUND"}]})
                query = parse_qs(parts.query)
                if query.get("service", [""])[0] != host:
                    return self._answer(400, {"details": "invalid service"})
                scope = query.get("scope", [""])[0]
                self._answer(200, {"token": registry.token_for(scope)})

            def do_HEAD(self) -> None:  # noqa: N802
                host, _, rest = urlsplit(self.path).path.lstrip("/").partition("/")
                repository, marker, tag = rest.removeprefix("v2/").rpartition("/manifests/")
                if not rest.startswith("v2/") or not marker:
                    return self._answer(404, None)
                scope = f"repository:{repository}:pull"
                if self.headers.get("Authorization", "") != f"Bearer {registry.token_for(scope)}":
                    challenge = f'Bearer realm="{registry.url}/{host}/token",service="{host}",scope="{scope}"'
                    return self._answer(401, None, {"WWW-Authenticate": challenge})
                name = f"{host}/{repository}:{tag}"
                digest = registry.tags.get(name)
                if digest is None:
                    return self._answer(404, None)  # MANIFEST_UNKNOWN (a HEAD has no body)
                if INDEX_TYPE not in self.headers.get("Accept", ""):
                    return self._answer(404, None)  # the stored type is not acceptable: no conversion here
                with registry._lock:
                    registry.lookups.append(name)
                self._answer(200, None, {"Docker-Content-Digest": digest, "Content-Type": INDEX_TYPE})

            def _answer(self, status: int, body: dict | None, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True,
                         name="base-image-registry").start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
