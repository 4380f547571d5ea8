#!/usr/bin/env bash
# The steps of buildspecs/build-image.yml, as one script: CodeBuild runs each buildspec command
# in a shell of its own, so arrays and shell options do not survive from one command to the
# next (aws/aws-cdk#26694). Here they live in one process, with strict mode on.
#
#   build-image.sh check    the build variables are set; the service and Dockerfile are the manifest's;
#                           the commit is in the tracked branch's history (defence in depth: the
#                           build trigger checks this before it starts a build)
#   build-image.sh tags     the tags to push: IMAGE_TAGS, or "<short sha> latest"
#   build-image.sh login    docker login to Docker Hub (when DOCKERHUB_USERNAME is set) and to the
#                           registry of REPOSITORY_URI; a buildx builder
#   build-image.sh build    buildx build and push under every tag (and inputs-<INPUTS_HASH>), with the registry cache
#   build-image.sh digest   the pushed digest (from metadata.json)
set -euo pipefail

CACHE_TAG="${CACHE_TAG:-buildcache}"
SERVICES_MANIFEST="${SERVICES_MANIFEST:-services.toml}"

fail() {
  echo "shipline: $*" >&2
  exit 1
}

check() {
  local missing="" name
  for name in SERVICE DOCKERFILE BUILD_CONTEXT REPOSITORY_URI CODEBUILD_RESOLVED_SOURCE_VERSION; do
    [ -n "${!name:-}" ] || missing="$missing $name"
  done
  [ -z "$missing" ] || fail "missing build variable(s):$missing. Start builds through shipline (the build trigger sets them)."
  # The manifest is the truth: the service must be in it, with this Dockerfile and context.
  python3 - <<'PY'
import os, sys, tomllib
path = os.environ["SERVICES_MANIFEST"] if "SERVICES_MANIFEST" in os.environ else "services.toml"
service = os.environ["SERVICE"]
with open(path, "rb") as handle:
    spec = tomllib.load(handle).get("services", {}).get(service)
if spec is None:
    sys.exit(f"shipline: service {service!r} is not in {path}")
for key, var in (("dockerfile", "DOCKERFILE"), ("context", "BUILD_CONTEXT")):
    if spec.get(key, ".") != os.environ[var]:
        sys.exit(f"shipline: {var}={os.environ[var]!r} but {path} says {key}={spec.get(key, '.')!r}")
PY
  [ -f "$DOCKERFILE" ] || fail "$DOCKERFILE does not exist at this commit"
  [[ "${INPUTS_HASH:-}" =~ ^([0-9a-f]{64})?$ ]] || fail "INPUTS_HASH is not a sha256 hex digest: $INPUTS_HASH"
  tracked
}

# Only the tracked branch is built: its last 1000 commits must hold this one. Needs the
# buildspec's `git-credential-helper: yes` to fetch from the source repository.
tracked() {
  local branch="${TRACKED_BRANCH:?TRACKED_BRANCH is not set (the build project sets it)}"
  local commit="$CODEBUILD_RESOLVED_SOURCE_VERSION"
  git fetch --quiet --depth=1000 origin "+refs/heads/$branch:refs/remotes/origin/$branch" ||
    fail "cannot fetch $branch from the source repository to check $commit against it"
  git merge-base --is-ancestor "$commit" "refs/remotes/origin/$branch" ||
    fail "commit $commit is not in the last 1000 commits of $branch: only the tracked branch is built"
}

tags() {
  echo "${IMAGE_TAGS:-${CODEBUILD_RESOLVED_SOURCE_VERSION:0:7} latest}"
}

login() {
  local registry="${REPOSITORY_URI%%/*}"
  # Docker Hub (DockerHubSecretArn): the builder image, the Dockerfile frontend and base images
  # are pulled as this user, not anonymously from CodeBuild's shared addresses.
  if [ -n "${DOCKERHUB_USERNAME:-}" ]; then
    printf '%s' "${DOCKERHUB_TOKEN:?DOCKERHUB_TOKEN is empty: the secret needs a token key}" |
      docker login --username "$DOCKERHUB_USERNAME" --password-stdin
  fi
  aws ecr get-login-password --region "$AWS_DEFAULT_REGION" |
    docker login --username AWS --password-stdin "$registry"
  docker buildx create --use --name shipline --driver docker-container >/dev/null
}

build() {
  local tag created
  local -a tag_args=()
  for tag in $(tags); do
    tag_args+=(--tag "$REPOSITORY_URI:$tag")
  done
  [ "${#tag_args[@]}" -gt 0 ] || fail "no image tags"
  # Build avoidance: the hash of the build's inputs, as a label and as the tag the next build
  # of the same inputs finds this image by (and retags it instead of building).
  local -a input_args=()
  if [ -n "${INPUTS_HASH:-}" ]; then
    input_args=(--tag "$REPOSITORY_URI:inputs-$INPUTS_HASH" --label "io.shipline.inputs=$INPUTS_HASH")
  fi
  created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  docker buildx build \
    --file "$DOCKERFILE" \
    --platform linux/arm64 \
    "${tag_args[@]}" \
    "${input_args[@]}" \
    --cache-from "type=registry,ref=$REPOSITORY_URI:$CACHE_TAG" \
    --cache-to "type=registry,ref=$REPOSITORY_URI:$CACHE_TAG,mode=max,image-manifest=true,oci-mediatypes=true" \
    --label "org.opencontainers.image.revision=$CODEBUILD_RESOLVED_SOURCE_VERSION" \
    --label "org.opencontainers.image.source=${CODEBUILD_SOURCE_REPO_URL:-unknown}" \
    --label "org.opencontainers.image.created=$created" \
    --label "org.opencontainers.image.title=$SERVICE" \
    --provenance=false \
    --metadata-file metadata.json \
    --push \
    "$BUILD_CONTEXT"
}

digest() {
  python3 -c 'import json; print(json.load(open("metadata.json"))["containerimage.digest"])'
}

case "${1:-}" in
  check | tags | login | build | digest) "$1" ;;
  *) fail "usage: $0 check|tags|login|build|digest" ;;
esac
