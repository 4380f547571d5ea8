"""`docker login` and `docker buildx` against the emulated ECR, as strict as the real ones.

What is emulated, and the real behaviour it follows (messages as docker and buildx print them):
- `docker login --username U --password-stdin REGISTRY`: the password must be the one ECR's
  GetAuthorizationToken gives this account; the login is kept in $HOME/.docker/config.json,
  as docker keeps it, so each build starts logged out.
- `docker buildx create [--use] [--name N] [--driver D]`: builders live in
  $HOME/.docker/buildx; the default builder uses the `docker` driver.
- `docker buildx build`: the Dockerfile and the context must exist; every COPY/ADD source
  must be in the context after .dockerignore; `--push` needs a tag ("tag is needed when
  pushing to registry") and a login to the registry; a registry cache export needs a
  builder that is not the `docker` driver, and to ECR it needs
  `image-manifest=true,oci-mediatypes=true` (ECR refuses buildkit's cache index with
  400 Bad Request; AWS Containers blog, "Announcing remote cache support in Amazon ECR for
  BuildKit clients"). The image is an OCI manifest made from the context's files, the
  Dockerfile, the build arguments, the platform and the labels; `--metadata-file` gets
  `containerimage.digest` and the rest buildx writes.
No image is really built: RUN instructions are not executed, base images are not pulled.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipline.local.ecr import IMAGE_CONFIG_TYPES, image_manifest, manifest_digest
from shipline.local.standins.cli import Answer, Call, Options

CACHE_CONFIG_TYPE = "application/vnd.buildkit.cacheconfig.v0"
_BUILD_VALUES = {f"--{n}": n for n in (
    "file", "tag", "platform", "cache-from", "cache-to", "label", "build-arg", "target", "metadata-file",
    "provenance", "sbom", "output", "progress", "builder", "secret", "ssh", "network", "iidfile", "annotation",
    "attest", "build-context", "add-host", "allow", "shm-size", "ulimit")} | {"-f": "file", "-t": "tag", "-o": "output"}
_BUILD_FLAGS = {"--push": "push", "--load": "load", "--no-cache": "no-cache", "--pull": "pull", "--quiet": "quiet",
                "-q": "quiet", "--check": "check"}


@dataclass
class Registry:
    """The emulated account's ECR, as the stand-ins reach it."""

    host: str  # <account>.dkr.ecr.<region>.amazonaws.com
    ecr: Any  # a boto3 ECR client on the emulator

    def password(self) -> str:
        token = self.ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        return str(base64.b64decode(token).decode().partition(":")[2])


DOCKER_HUB_HOSTS = frozenset({"index.docker.io/v1", "index.docker.io", "docker.io", "registry-1.docker.io"})


class DockerCli:
    def __init__(self, registry: Registry, on_push: Callable[[str], None] | None = None,
                 docker_hub: tuple[str, str] | None = None):
        self.registry = registry
        self.docker_hub = docker_hub  # the Docker Hub user and token a login there must give; None: no account
        self.on_push = on_push or (lambda _ref: None)

    def __call__(self, call: Call) -> Answer:
        args = call.argv
        if not args:
            return Answer().fail("Usage:  docker [OPTIONS] COMMAND")
        if args[0] == "login":
            return self.login(call, args[1:])
        if args[0] == "buildx":
            sub = args[1] if len(args) > 1 else ""
            if sub == "create":
                return self.create_builder(call, args[2:])
            if sub == "use":
                return self.use_builder(call, args[2:])
            if sub == "build":
                return self.build(call, args[2:])
            if sub == "version":
                return Answer().out("github.com/docker/buildx v0.17.1 (shipline local stand-in)")
            return Answer().fail(f"ERROR: unknown command \"{sub}\" for \"docker buildx\"")
        if args[0] in ("version", "--version"):
            return Answer().out("Docker version 27.3.1 (shipline local stand-in)")
        return Answer().fail(f"docker: '{args[0]}' is not a docker command the local account's stand-in emulates "
                             "(it has login and buildx).\nSee 'docker --help'")

    # ------------------------------------------------------------------ login
    def _config_path(self, call: Call) -> Path:
        return Path(call.env.get("DOCKER_CONFIG", call.home / ".docker")) / "config.json"

    def _config(self, call: Call) -> dict:
        path = self._config_path(call)
        return json.loads(path.read_text()) if path.exists() else {}

    def login(self, call: Call, argv: tuple[str, ...]) -> Answer:
        options = Options(argv, values={"--username": "username", "-u": "username", "--password": "password",
                                        "-p": "password"}, flags={"--password-stdin": "password-stdin"})
        if options.error:
            return Answer().fail(f"{options.error}\nSee 'docker login --help'.", 125)
        if "password-stdin" in options.flags and options.one("password") is not None:
            return Answer().fail("--password and --password-stdin are mutually exclusive")
        username = options.one("username")
        if "password-stdin" in options.flags and not username:
            return Answer().fail("Must provide --username with --password-stdin")
        password = call.stdin.strip("\r\n") if "password-stdin" in options.flags else options.one("password")
        if not password:
            return Answer().fail("Error: Cannot perform an interactive login from a non TTY device")
        server = options.positional[0] if options.positional else "https://index.docker.io/v1/"
        host = server.removeprefix("https://").rstrip("/")
        if host in DOCKER_HUB_HOSTS:  # Docker Hub: the user and token the local account was given
            if self.docker_hub is None or (username, password) != self.docker_hub:
                return Answer().fail('Error response from daemon: Get "https://registry-1.docker.io/v2/": '
                                     "unauthorized: incorrect username or password")
        elif host != self.registry.host:
            return Answer().fail(f'Error response from daemon: Get "https://{host}/v2/": dial tcp: lookup {host}: '
                                 "no such host")
        elif username != "AWS" or password != self.registry.password():
            return Answer().fail(f"Error response from daemon: login attempt to https://{host}/v2/ failed with "
                                 "status: 400 Bad Request")
        config = self._config(call)
        auth = base64.b64encode(f"{username}:{password}".encode()).decode()
        config.setdefault("auths", {})[host] = {"auth": auth}
        path = self._config_path(call)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=1))
        return (Answer().err(f"WARNING! Your password will be stored unencrypted in {path}.")
                .err("Configure a credential helper to remove this warning. See")
                .err("https://docs.docker.com/go/credential-store/").out("Login Succeeded"))

    def _logged_in(self, call: Call, host: str) -> bool:
        return host in self._config(call).get("auths", {})

    # ------------------------------------------------------------------ builders
    def _buildx_dir(self, call: Call) -> Path:
        return Path(call.env.get("DOCKER_CONFIG", call.home / ".docker")) / "buildx"

    def create_builder(self, call: Call, argv: tuple[str, ...]) -> Answer:
        options = Options(argv, values={"--name": "name", "--driver": "driver", "--platform": "platform",
                                        "--driver-opt": "driver-opt", "--buildkitd-flags": "buildkitd-flags"},
                          flags={"--use": "use", "--bootstrap": "bootstrap", "--append": "append"})
        if options.error:
            return Answer().fail(f"ERROR: {options.error}")
        driver = options.one("driver", "docker-container") or "docker-container"
        if driver not in ("docker-container", "kubernetes", "remote"):
            return Answer().fail(f'ERROR: failed to find driver "{driver}"')
        name = options.one("name") or f"builder-{hashlib.sha256(str(call.cwd).encode()).hexdigest()[:8]}"
        instances = self._buildx_dir(call) / "instances"
        if (instances / name).exists() and "append" not in options.flags:
            return Answer().fail(f'ERROR: existing instance for "{name}" but no append mode, specify the node name '
                                 "to make changes for existing instances")
        instances.mkdir(parents=True, exist_ok=True)
        (instances / name).write_text(json.dumps({"Name": name, "Driver": driver}))
        if "use" in options.flags:
            (self._buildx_dir(call) / "current").write_text(name)
        return Answer().out(name)

    def use_builder(self, call: Call, argv: tuple[str, ...]) -> Answer:
        name = argv[0] if argv else ""
        if name != "default" and not (self._buildx_dir(call) / "instances" / name).exists():
            return Answer().fail(f'ERROR: run `docker buildx create --name {name}` to create a builder')
        (self._buildx_dir(call) / "current").parent.mkdir(parents=True, exist_ok=True)
        (self._buildx_dir(call) / "current").write_text(name)
        return Answer()

    def _builder(self, call: Call, wanted: str | None) -> tuple[str, str] | None:
        directory = self._buildx_dir(call)
        name = wanted or ((directory / "current").read_text().strip() if (directory / "current").exists()
                          else "default")
        if name == "default":
            return "default", "docker"
        instance = directory / "instances" / name
        if not instance.exists():
            return None
        return name, str(json.loads(instance.read_text())["Driver"])

    # ------------------------------------------------------------------ build
    def build(self, call: Call, argv: tuple[str, ...]) -> Answer:
        answer = Answer()
        options = Options(argv, values=_BUILD_VALUES, flags=_BUILD_FLAGS)
        if options.error:
            return answer.fail(f"ERROR: {options.error}\nSee 'docker buildx build --help'.")
        if len(options.positional) != 1:
            return answer.fail('ERROR: "docker buildx build" requires exactly 1 argument.')
        builder = self._builder(call, options.one("builder"))
        if builder is None:
            return answer.fail(f'ERROR: no builder "{options.one("builder")}" found')
        name, driver = builder
        answer.err(f'#0 building with "{name}" instance using {driver} driver')
        context = (call.cwd / options.positional[0]).resolve()
        if not context.is_dir():
            return answer.fail(f'ERROR: failed to build: unable to prepare context: path "{options.positional[0]}" '
                               "not found")
        dockerfile = call.cwd / (options.one("file") or str(Path(options.positional[0]) / "Dockerfile"))
        if not dockerfile.is_file():
            return answer.fail("ERROR: failed to build: failed to solve: failed to read dockerfile: "
                               f"open {dockerfile.name}: no such file or directory")
        platforms = [p for value in options.all("platform") for p in value.split(",")] or ["linux/arm64"]
        for platform in platforms:
            if not re.fullmatch(r"[a-z0-9]+/[a-z0-9_]+(/v[0-9]+)?", platform):
                return answer.fail(f'ERROR: failed to build: invalid platform "{platform}"')
        tags = options.all("tag")
        for tag in tags:
            if not _reference(tag):
                return answer.fail(f'ERROR: failed to build: invalid tag "{tag}": invalid reference format')
        cache_to = [_csv(value) for value in options.all("cache-to")]
        if cache_to and driver == "docker":
            return answer.fail("ERROR: failed to build: Cache export is not supported for the docker driver.\n"
                               "Switch to a different driver, or turn on the containerd image store, and try again.\n"
                               "Learn more at https://docs.docker.com/go/build-cache-backends/")
        if "push" in options.flags and not tags:
            return answer.fail("ERROR: failed to build: tag is needed when pushing to registry")
        metadata_file = options.one("metadata-file")
        if metadata_file and not (call.cwd / metadata_file).parent.is_dir():
            return answer.fail(f"ERROR: failed to build: open {metadata_file}: no such file or directory")

        text = dockerfile.read_text(encoding="utf-8", errors="replace")
        files = _context_files(context)
        problem = _check_dockerfile(text, context, files, _build_args(options.all("build-arg")))
        if problem:
            return answer.fail(f"ERROR: failed to build: failed to solve: {problem}")
        for value in options.all("cache-from"):
            source = _csv(value)
            if source.get("type") == "registry" and not self._exists(source.get("ref", "")):
                answer.err(f"#1 importing cache manifest from {source.get('ref')}")
                answer.err(f"#1 ERROR: {source.get('ref')}: not found")

        labels = dict(label.partition("=")[::2] for label in options.all("label"))
        content = bytearray(text.encode())  # the layer's bytes: the stand-in for its tarball
        for path in files:
            content += f"{path}\0".encode()
            content += hashlib.sha256((context / path).read_bytes()).digest()
        for argument in sorted(options.all("build-arg")):
            content += f"arg {argument}\0".encode()
        layer = "sha256:" + hashlib.sha256(content).hexdigest()
        os_name, _, architecture = platforms[0].partition("/")
        config = json.dumps({"architecture": architecture.split("/")[0], "os": os_name,
                             "config": {"Labels": labels}, "rootfs": {"type": "layers", "diff_ids": [layer]}},
                            sort_keys=True)
        config_digest = "sha256:" + hashlib.sha256(config.encode()).hexdigest()
        manifest = image_manifest(config_digest, (layer,), size=len(config), config_type=IMAGE_CONFIG_TYPES[0])
        digest = manifest_digest(manifest)
        blobs = {config_digest: config.encode(), layer: bytes(content)}
        answer.err("#2 exporting manifest " + digest)

        if "push" in options.flags:
            for tag in tags:
                failure = self._push(call, tag, manifest, blobs=blobs)
                if failure:
                    return answer.fail(f"ERROR: failed to build: failed to solve: {failure}")
                answer.err(f"#2 pushing {tag} done")
        for target in cache_to:
            failure = self._export_cache(call, target, layer)
            if failure:
                return answer.fail(f"ERROR: failed to build: failed to solve: {failure}")
        if metadata_file:
            (call.cwd / metadata_file).write_text(json.dumps({
                "buildx.build.ref": f"{name}/{name}0/{digest[7:32]}",
                "containerimage.config.digest": config_digest,
                "containerimage.descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                              "digest": digest, "size": len(manifest)},
                "containerimage.digest": digest,
                **({"image.name": ",".join(tags)} if tags else {}),
            }, indent=2))
        return answer.err("#3 DONE")

    def _exists(self, reference: str) -> bool:
        parsed = _reference(reference)
        if not parsed or parsed[0] != self.registry.host:
            return False
        _host, repository, tag = parsed
        try:
            images = self.registry.ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except self.registry.ecr.exceptions.RepositoryNotFoundException:
            return False
        return bool(images.get("images"))

    def _push(self, call: Call, reference: str, manifest: str, media_type: str | None = None,
              blobs: dict[str, bytes] | None = None) -> str:
        """Push a manifest under a tag, its blobs first (those the repository lacks), as docker
        push does; an error text, or "" when it went through."""
        parsed = _reference(reference)
        if parsed is None:
            return f'invalid reference format: "{reference}"'
        host, repository, tag = parsed
        if host != self.registry.host:
            return f"failed to push {reference}: dial tcp: lookup {host}: no such host"
        if not self._logged_in(call, host):
            blob = json.loads(manifest)["config"]["digest"]
            return (f"failed to push {reference}: unexpected status from HEAD request to "
                    f"https://{host}/v2/{repository}/blobs/{blob}: 401 Unauthorized")
        ecr = self.registry.ecr
        try:
            _upload_blobs(ecr, repository, blobs or {})
            ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag,
                          **({"imageManifestMediaType": media_type} if media_type else {}))
        except ecr.exceptions.RepositoryNotFoundException:
            return (f"failed to push {reference}: name unknown: The repository with name '{repository}' does not "
                    f"exist in the registry with id '{host.split('.')[0]}'")
        except ecr.exceptions.ImageAlreadyExistsException:
            pass  # the same manifest under the same tag: nothing to do, as docker reports
        except ecr.exceptions.ClientError as exc:
            return f"failed to push {reference}: {exc.response['Error']['Message']}"
        self.on_push(reference)
        return ""

    def _export_cache(self, call: Call, target: dict[str, str], layer: str) -> str:
        kind = target.get("type", "")
        if kind in ("inline", "local", "gha", "s3"):
            return ""
        if kind != "registry":
            return f'unsupported cache type "{kind}"'
        reference = target.get("ref", "")
        parsed = _reference(reference)
        if parsed is None:
            return "cache export: ref is required for the registry cache"
        host, repository, tag = parsed
        if host == self.registry.host and not (target.get("image-manifest") == "true"
                                               and target.get("oci-mediatypes") == "true"):
            return (f'error writing manifest blob: failed commit on ref "sha256:{layer[7:71]}": unexpected status '
                    f"from PUT request to https://{host}/v2/{repository}/manifests/{tag}: 400 Bad Request")
        cache = image_manifest("sha256:" + hashlib.sha256(f"cache {layer}".encode()).hexdigest(), (layer,),
                               config_type=CACHE_CONFIG_TYPE)
        return self._push(call, reference, cache)


def _reference(reference: str) -> tuple[str, str, str] | None:
    """host/repository:tag (a tag is required here)."""
    match = re.fullmatch(r"([a-z0-9.-]+(?::\d+)?)/([a-z0-9]+(?:[._/-][a-z0-9]+)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
                         reference)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def _csv(value: str) -> dict[str, str]:
    return dict(part.partition("=")[::2] for part in value.split(",") if part)


def _build_args(values: list[str]) -> dict[str, str]:
    return dict(value.partition("=")[::2] for value in values)


def _ignore_patterns(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _ignored(path: str, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    """.dockerignore matching (Go filepath.Match per pattern, `**`, `!` exceptions, last match wins;
    a pattern that matches a directory excludes what is under it)."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for regex, negate in rules:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def _rules(patterns: list[str]) -> list[tuple[re.Pattern[str], bool]]:
    """Each pattern as a compiled regex, and whether it is an exception (`!`)."""
    return [(re.compile(_glob(raw.lstrip("!").strip("/").removeprefix("./"))), raw.startswith("!"))
            for raw in patterns]


def _glob(pattern: str) -> str:
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        else:
            char = pattern[index]
            out += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
            index += 1
    return out


def _context_files(context: Path) -> list[str]:
    """The files docker sends as the build context: all but what .dockerignore leaves out. An
    ignored directory is not walked unless an exception (`!`) could bring back a file in it."""
    rules = _rules(_ignore_patterns(context))
    prune = not any(negate for _, negate in rules)
    files: list[str] = []
    for directory, subdirectories, names in os.walk(context):
        base = Path(directory).relative_to(context).as_posix()
        within = "" if base == "." else f"{base}/"
        if prune:
            subdirectories[:] = [d for d in subdirectories if not _ignored(within + d, rules)]
        files.extend(within + name for name in names
                     if (Path(directory) / name).is_file() and not _ignored(within + name, rules))
    return sorted(files, key=lambda file: file.split("/"))  # as paths sort: by component


def _check_dockerfile(text: str, context: Path, files: list[str], build_args: dict[str, str]) -> str:
    """What buildkit would refuse before running anything: no stage, or a COPY/ADD source that
    is not in the context."""
    lines = re.sub(r"\\\n", " ", text).splitlines()
    instructions = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not any(i.upper().startswith("FROM ") for i in instructions):
        return "dockerfile parse error: no build stage in current context"
    for instruction in instructions:
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() not in ("COPY", "ADD"):
            continue
        words = rest.split()
        if rest.strip().startswith("[") or any(w.startswith("--from=") for w in words):
            continue
        sources = [w for w in words if not w.startswith("--")][:-1]
        for source in sources:
            if source.startswith(("http://", "https://", "git@")) or "$" in source:
                continue
            wanted = source.strip("/").removeprefix("./")
            if wanted in ("", ".") or any(fnmatch.fnmatchcase(f, wanted) or f == wanted or f.startswith(f"{wanted}/")
                                          for f in files):
                continue
            return (f"failed to compute cache key: failed to calculate checksum of ref: \"/{wanted}\": not found")
    return ""


def _upload_blobs(ecr: Any, repository: str, blobs: dict[str, bytes]) -> None:
    """The blobs the repository lacks, through ECR's layer API (BatchCheckLayerAvailability,
    InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload), as a push uploads them."""
    if not blobs:
        return
    found = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=list(blobs))
    present = {layer["layerDigest"] for layer in found.get("layers", [])
               if layer.get("layerAvailability") == "AVAILABLE"}
    for digest, data in blobs.items():
        if digest in present:
            continue
        upload = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
        ecr.upload_layer_part(repositoryName=repository, uploadId=upload, partFirstByte=0,
                              partLastByte=len(data) - 1, layerPartBlob=data)
        try:
            ecr.complete_layer_upload(repositoryName=repository, uploadId=upload, layerDigests=[digest])
        except ecr.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "LayerAlreadyExistsException":  # a concurrent push got there first
                raise
