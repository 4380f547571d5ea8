"""Container registries outside AWS: what digest an image tag names now.

The OCI distribution API (and Docker's Registry HTTP API V2): `HEAD /v2/<name>/manifests/<tag>`
with the manifest media types in `Accept` answers with the digest in `Docker-Content-Digest`,
without the body. A registry that wants a token answers 401 with `WWW-Authenticate: Bearer
realm=...,service=...,scope=...`; an anonymous GET of the realm with that service and scope
gives `{"token": ...}` (Docker Hub: realm https://auth.docker.io/token, service
registry.docker.io). A Docker Hub HEAD does not count against its pull rate limit.
Only public images are resolved: no credentials are sent.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pipeline.domain.inputs import InputsUnknownError, split_reference

# The URL of a registry host's API root. The local account points it at its stand-in registry.
REGISTRY_URL = "https://{host}"
TIMEOUT_SECONDS = 5.0
ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def tag_digest(reference: str, *, opener: Any | None = None) -> str:
    """The digest `reference`'s tag names now (InputsUnknownError when the registry does not say)."""
    host, repository, tag = split_reference(reference)
    url = f"{REGISTRY_URL.format(host=host)}/v2/{repository}/manifests/{tag}"
    open_url = opener or urllib.request.urlopen
    try:
        return _head(open_url, url, None)
    except urllib.error.HTTPError as exc:
        challenge = exc.headers.get("WWW-Authenticate", "") if exc.code == 401 else ""
        if not challenge.lower().startswith("bearer "):
            raise InputsUnknownError(f"{reference}: the registry answered {exc.code}") from None
    token = _token(open_url, dict(_CHALLENGE.findall(challenge)), repository, reference)
    try:
        return _head(open_url, url, token)
    except urllib.error.HTTPError as exc:
        raise InputsUnknownError(f"{reference}: the registry answered {exc.code}") from None


def _head(open_url: Any, url: str, token: str | None) -> str:
    headers = {"Accept": ACCEPT, **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        with open_url(urllib.request.Request(url, method="HEAD", headers=headers), timeout=TIMEOUT_SECONDS) as reply:
            digest = reply.headers.get("Docker-Content-Digest", "")
    except urllib.error.HTTPError:
        raise
    except OSError as exc:  # no route, timeout, TLS
        raise InputsUnknownError(f"{url}: {exc}") from None
    if not digest.startswith("sha256:"):
        raise InputsUnknownError(f"{url}: no Docker-Content-Digest in the answer")
    return str(digest)


def _token(open_url: Any, challenge: dict[str, str], repository: str, reference: str) -> str:
    realm = challenge.get("realm", "")
    if not realm.startswith(("https://", "http://")):
        raise InputsUnknownError(f"{reference}: the registry asks for a token from {realm or 'nowhere'}")
    query = {"service": challenge.get("service", ""), "scope": challenge.get("scope", f"repository:{repository}:pull")}
    try:
        with open_url(f"{realm}?{urllib.parse.urlencode(query)}", timeout=TIMEOUT_SECONDS) as reply:
            body = json.loads(reply.read())
    except (OSError, ValueError) as exc:
        raise InputsUnknownError(f"{reference}: no token from {realm}: {exc}") from None
    token = body.get("token") or body.get("access_token")
    if not token:
        raise InputsUnknownError(f"{reference}: {realm} gave no token")
    return str(token)
