"""Writes the sample events in this folder, in the shapes AWS documents for each source.

    .venv/bin/python events/generate.py

The commits are real commits of this repository (one that changed services.toml, so a push of
it rebuilds every service, and its parent), on main and with a buildspec CodeBuild can run, so
`shipline local run --events events/<name>.json` builds what they name as CodeBuild would. The
GitHub requests are signed with the local account's documented webhook secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRET = b"shipline-local-webhook-secret"
BEFORE = "cc75f436ffc0a733c7fb95bbf7cf6087ac23be83"
AFTER = "1279bbb2c1ca1e45aabe8b9a37c06e64359d28f5"
SHORT = AFTER[:7]
ACCOUNT, REGION = "123456789012", "us-east-1"
PROJECT, ENVIRONMENT, BRANCH = "multi-agent-orchestrator", "dev", "main"
REPOSITORY = f"{PROJECT}-{ENVIRONMENT}-langgraph"
DIGEST = "sha256:" + hashlib.sha256(f"shipline sample langgraph {SHORT}".encode()).hexdigest()
CODECOMMIT_ARN = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{PROJECT}"
REPOSITORY_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY}"
BUILD_PROJECT = f"{PROJECT}-{ENVIRONMENT}-images"
BUILD_ID = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{BUILD_PROJECT}:8745a7a9-c340-456a-9166-edf953571bef"


CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{PROJECT}-{ENVIRONMENT}"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{PROJECT}-{ENVIRONMENT}/{REPOSITORY}"
DEPLOYMENT_ID = "ecs-svc/5473939580318226201"


def envelope(detail_type: str, source: str, detail: dict, event_id: str, resources: list[str] | None = None,
             time: str = "2026-11-20T10:23:43Z") -> dict:
    return {"version": "0", "id": event_id, "detail-type": detail_type, "source": source, "account": ACCOUNT,
            "time": time, "region": REGION, "resources": resources or [], "detail": detail}


def codecommit(event: str, event_id: str, old: str | None) -> dict:
    detail = {"callerUserArn": f"arn:aws:iam::{ACCOUNT}:user/dev", "commitId": AFTER, "event": event,
              "referenceFullName": f"refs/heads/{BRANCH}", "referenceName": BRANCH, "referenceType": "branch",
              "repositoryId": "12345678-1234-5678-abcd-12345678abcd", "repositoryName": PROJECT}
    if old:
        detail["oldCommitId"] = old
    return envelope("CodeCommit Repository State Change", "aws.codecommit", detail, event_id, [CODECOMMIT_ARN])


def github_push(files: list[str]) -> dict:
    repo = f"https://github.com/example-org/{PROJECT}"
    person = {"name": "Dev", "email": "dev@example.com", "username": "dev"}
    return {
        "ref": f"refs/heads/{BRANCH}", "before": BEFORE, "after": AFTER, "created": False, "deleted": False,
        "forced": False, "base_ref": None, "compare": f"{repo}/compare/{BEFORE[:12]}...{AFTER[:12]}",
        "commits": [{"id": AFTER, "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433", "distinct": True,
                     "message": "langgraph: route low-confidence answers back to cortex",
                     "timestamp": "2026-11-20T10:23:40+00:00", "url": f"{repo}/commit/{AFTER}",
                     "author": person, "committer": person, "added": [], "removed": [], "modified": files}],
        "head_commit": None,
        "repository": {"id": 123456789, "name": PROJECT, "full_name": f"example-org/{PROJECT}",
                       "default_branch": BRANCH, "clone_url": f"{repo}.git"},
        "pusher": {"name": "dev", "email": "dev@example.com"},
        "sender": {"login": "dev", "id": 1, "type": "User"},
    }


def function_url(body: dict, event: str, delivery: str, secret: bytes = SECRET) -> dict:
    """A Lambda Function URL request (payload format 2.0), as GitHub's delivery arrives."""
    raw = json.dumps(body, separators=(",", ":"))
    url_id = "abcdefghijklmnopqrstuvwxyz012345"
    signature = "sha256=" + hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/json", "user-agent": "GitHub-Hookshot/044aadd",
                    "x-github-delivery": delivery, "x-github-event": event, "x-github-hook-id": "292430182",
                    "x-hub-signature-256": signature, "host": f"{url_id}.lambda-url.{REGION}.on.aws"},
        "requestContext": {
            "accountId": "anonymous", "apiId": url_id, "domainName": f"{url_id}.lambda-url.{REGION}.on.aws",
            "domainPrefix": url_id, "requestId": delivery, "routeKey": "$default", "stage": "$default",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "140.82.115.1",
                     "userAgent": "GitHub-Hookshot/044aadd"},
            "time": "20/Nov/2026:10:23:44 +0000", "timeEpoch": 1795170224000},
        "body": raw, "isBase64Encoded": False,
    }


def ecs_deployment(kind: str, name: str, reason: str, event_id: str) -> dict:
    """"ECS Deployment State Change" (ECS Developer Guide, "Amazon ECS service deployment state change events")."""
    return envelope("ECS Deployment State Change", "aws.ecs", {
        "eventType": kind, "eventName": name, "deploymentId": DEPLOYMENT_ID, "updatedAt": "2026-11-20T10:40:11.402Z",
        "reason": reason}, event_id, [SERVICE_ARN], time="2026-11-20T10:40:11Z")


def ecr_push(tag: str, event_id: str, digest: str = DIGEST) -> dict:
    return envelope("ECR Image Action", "aws.ecr", {"result": "SUCCESS", "repository-name": REPOSITORY,
                                                   "image-digest": digest, "action-type": "PUSH", "image-tag": tag},
                    event_id, time="2026-11-20T10:31:12Z")


def ecr_scan(counts: dict[str, int], tags: list[str], event_id: str) -> dict:
    return envelope("ECR Image Scan", "aws.ecr", {"scan-status": "COMPLETE", "repository-name": REPOSITORY,
                                                 "finding-severity-counts": counts, "image-digest": DIGEST,
                                                 "image-tags": tags}, event_id, [REPOSITORY_ARN],
                    time="2026-11-20T10:31:40Z")


def _phases(failed: str | None) -> list[dict]:
    """additional-information.phases as CodeBuild sends them: each phase with its status and
    context, ending with COMPLETED (type and start only). With on-failure: ABORT, a failed build
    phase skips post_build (the CodeBuild User Guide, "Build phase transitions")."""
    names = ["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD",
             "UPLOAD_ARTIFACTS", "FINALIZING"]
    phases = []
    for name in names:
        if failed and name == "POST_BUILD":
            continue
        status = "FAILED" if name == failed else "SUCCEEDED"
        context = (["COMMAND_EXECUTION_ERROR: Error while executing command: bash buildspecs/build-image.sh build. "
                    "Reason: exit status 1"] if status == "FAILED" else [] if name in ("SUBMITTED", "QUEUED")
                   else [": "])
        phases.append({"phase-context": context, "start-time": "Nov 20, 2026 10:24:02 AM",
                       "end-time": "Nov 20, 2026 10:24:40 AM", "duration-in-seconds": 38, "phase-type": name,
                       "phase-status": status})
    return [*phases, {"start-time": "Nov 20, 2026 10:29:54 AM", "phase-type": "COMPLETED"}]


def build_state(status: str, failed_phase: str | None, event_id: str) -> dict:
    variables = {"SERVICE": "langgraph", "DOCKERFILE": "docker/langgraph/Dockerfile", "BUILD_CONTEXT": ".",
                 "REPOSITORY_URI": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}",
                 "IMAGE_TAGS": f"{SHORT} latest", "TRIGGER": "codecommit"}
    stream = BUILD_ID.rsplit(":", 1)[-1]
    return envelope("CodeBuild Build State Change", "aws.codebuild", {
        "build-status": status, "project-name": BUILD_PROJECT, "build-id": BUILD_ID, "current-phase": "COMPLETED",
        "current-phase-context": "[: ]", "version": "1",
        "additional-information": {
            "artifact": {"location": ""},
            "environment": {"image": "aws/codebuild/amazonlinux-aarch64-standard:3.0", "privileged-mode": True,
                            "compute-type": "BUILD_GENERAL1_SMALL", "type": "ARM_CONTAINER",
                            "environment-variables": [{"name": k, "type": "PLAINTEXT", "value": v}
                                                      for k, v in variables.items()]},
            "timeout-in-minutes": 30, "build-complete": True, "initiator": "shipline-build-trigger",
            "build-start-time": "Nov 20, 2026 10:24:02 AM",
            "source": {"location": f"https://git-codecommit.{REGION}.amazonaws.com/v1/repos/{PROJECT}",
                       "type": "CODECOMMIT"},
            "source-version": AFTER,
            "logs": {"group-name": f"/aws/codebuild/{BUILD_PROJECT}", "stream-name": stream,
                     "deep-link": f"https://console.aws.amazon.com/cloudwatch/home?region={REGION}"
                                  f"#logEvent:group=/aws/codebuild/{BUILD_PROJECT};stream={stream}"},
            "phases": _phases(failed_phase)},
    }, event_id, [BUILD_ID], time="2026-11-20T10:29:55Z")


def inspector_finding(*, finding: str, observed: str, time: str, event_id: str, severity: str, cve: str,
                      package: str, version: str, fixed_in: str | None, score: float) -> dict:
    """An "Inspector2 Finding" for an image, as the ECR User Guide ("EventBridge events sent for
    enhanced scanning in Amazon ECR") and the Amazon Inspector User Guide ("Amazon EventBridge
    event schema for Amazon Inspector events") show it: the top-level resource is the image's
    ARN (`repository/<name>/<digest>`), the detail the finding (status ACTIVE, SUPPRESSED or
    CLOSED; timestamps as "Nov 21, 2026, 6:02:30 AM"). The vulnerable package carries
    `fixedInVersion` when a version fixes it, and the finding `fixAvailable` YES, NO or PARTIAL
    (Amazon Inspector API Reference, "Finding" and "VulnerablePackage": both optional)."""
    fixed = {"fixedInVersion": fixed_in} if fixed_in else {}
    return envelope("Inspector2 Finding", "aws.inspector2", {
        "awsAccountId": ACCOUNT, "description": f"A flaw was found in {package}.",
        "exploitAvailable": "NO", "findingArn": f"arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{finding}",
        "firstObservedAt": observed, "fixAvailable": "YES" if fixed_in else "NO", "inspectorScore": score,
        "inspectorScoreDetails": {"adjustedCvss": {
            "adjustments": [], "cvssSource": "NVD", "score": score, "scoreSource": "NVD",
            "scoringVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "version": "3.1"}},
        "lastObservedAt": observed,
        "packageVulnerabilityDetails": {
            "cvss": [{"baseScore": score, "scoringVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                      "source": "NVD", "version": "3.1"}],
            "referenceUrls": [f"https://security-tracker.debian.org/tracker/{cve}"],
            "source": "DEBIAN_CVE", "sourceUrl": f"https://security-tracker.debian.org/tracker/{cve}",
            "vendorSeverity": severity.title(), "vulnerabilityId": cve,
            "vulnerablePackages": [{"arch": "ARM64", "epoch": 0, "name": package, "packageManager": "OS",
                                    "release": "0+deb12u1", "version": version, **fixed}]},
        "remediation": {"recommendation": {"text": f"Upgrade {package}."}},
        "resources": [{"details": {"awsEcrContainerImage": {
            "architecture": "arm64", "imageHash": DIGEST, "imageTags": [SHORT], "platform": "DEBIAN_12",
            "pushedAt": "Nov 20, 2026, 10:31:12 AM", "registry": ACCOUNT, "repositoryName": REPOSITORY}},
            "id": f"{REPOSITORY_ARN}/{DIGEST}", "partition": "aws", "region": REGION,
            "type": "AWS_ECR_CONTAINER_IMAGE"}],
        "severity": severity, "status": "ACTIVE", "title": f"{cve} - {package}", "type": "PACKAGE_VULNERABILITY",
        "updatedAt": observed,
    }, event_id, [f"{REPOSITORY_ARN}/{DIGEST}"], time=time)


SAMPLES = {
    "codecommit-push": codecommit("referenceUpdated", "4f8e5f9c-2d33-4a5e-8c43-1f7d2b6a9e01", BEFORE),
    "codecommit-branch-created": codecommit("referenceCreated", "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", None),
    "schedule-nightly": envelope("Scheduled Event", "aws.events", {}, "9c2a1f7e-7d1b-4c1e-a3b4-6f8e2d0c5b7a",
                                 [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{PROJECT}-{ENVIRONMENT}-NightlyRebuild"],
                                 time="2026-11-21T03:00:00Z"),
    "build-requested": envelope("Build Requested", "shipline", {
        "project": PROJECT, "environment": ENVIRONMENT, "commit": AFTER, "services": ["langgraph"],
        "trigger": "request", "requestedBy": "shipline trigger"}, "a7d3e2c1-5b4f-4e6d-9a8b-7c6d5e4f3a2b"),
    "github-push": function_url(github_push(["docker/langgraph/Dockerfile"]), "push",
                                "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    "github-ping": function_url({"zen": "Keep it logically awesome.", "hook_id": 292430182,
                                 "hook": {"type": "Repository", "events": ["push"]}}, "ping",
                                "1a2b3c4d-cc78-11e3-81ab-4c9367dc0958"),
    "github-push-bad-signature": function_url(github_push(["docker/langgraph/Dockerfile"]), "push",
                                              "deadbeef-cc78-11e3-81ab-4c9367dc0958", secret=b"not-the-secret"),
    "ecr-image-push": ecr_push(SHORT, "13cde686-328b-6117-af20-0e5566167482"),
    "ecr-image-push-latest": ecr_push("latest", "13cde686-328b-6117-af20-0e5566167483"),
    "ecr-image-push-buildcache": ecr_push("buildcache", "13cde686-328b-6117-af20-0e5566167484",
                                          "sha256:" + hashlib.sha256(b"cache").hexdigest()),
    "ecr-image-scan": ecr_scan({"CRITICAL": 1, "HIGH": 2, "MEDIUM": 3}, [SHORT, "latest"],
                               "85fc3613-e913-7fc4-a80c-a3753e4aa9ae"),
    "ecr-image-scan-clean": ecr_scan({}, [], "85fc3613-e913-7fc4-a80c-a3753e4aa9af"),
    "inspector2-scan": envelope("Inspector2 Scan", "aws.inspector2", {
        "scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": REPOSITORY_ARN,
        "finding-severity-counts": {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "TOTAL": 3}, "image-digest": DIGEST,
        "image-tags": [SHORT]}, "739c0d3c-4f02-85c7-5a88-94a9a8c1f2e0", [REPOSITORY_ARN],
        time="2026-11-20T10:33:16Z"),
    # Amazon Inspector cannot scan the image (the Inspector User Guide's coverage sample, for an EC2
    # instance there; the resource here is the image, as a finding's is): no Inspector2 Scan follows.
    "inspector2-coverage": envelope("Inspector2 Coverage", "aws.inspector2", {
        "scanStatus": {"reason": "UNSUPPORTED_OS", "statusCodeValue": "INACTIVE"}, "scanType": "PACKAGE",
        "provider": "AWS", "providerAccountId": ACCOUNT, "providerRegion": REGION,
        "eventTimestamp": "2026-11-20T10:33:14.665501Z", "version": "1.0"}, "000adda5-0fbf-913e-bc0e-10f0376412aa",
        [f"{REPOSITORY_ARN}/{DIGEST}"], time="2026-11-20T10:33:16Z"),
    # Continuous scanning, a day after the initial scan: a finding reported after the image's scan message.
    "inspector2-finding": inspector_finding(
        finding="be674aaddd0f75ac632055e4a1b2c3d4", observed="Nov 21, 2026, 6:02:30 AM", time="2026-11-21T06:02:30Z",
        event_id="42dbea55-45ad-b2b4-87a8-afa0b1c2d3e4", severity="CRITICAL", cve="CVE-2026-0001",
        package="openssl", version="3.0.15", fixed_in="3.0.15-1~deb12u2", score=9.8),
    # Continuous scanning again: a vulnerability no version fixes yet (no fixedInVersion, fixAvailable NO).
    "inspector2-finding-no-fix": inspector_finding(
        finding="5e8a1c3b7d9f2a4c6e8b0d1f3a5c7e9b", observed="Nov 21, 2026, 6:14:05 AM", time="2026-11-21T06:14:05Z",
        event_id="42dbea55-45ad-b2b4-87a8-afa0b1c2d3e6", severity="CRITICAL", cve="CVE-2026-0003",
        package="zlib1g", version="1:1.2.13.dfsg-1", fixed_in=None, score=9.1),
    # The initial scan's own finding (the HIGH its Inspector2 Scan counts), sent before that event.
    "inspector2-finding-initial": inspector_finding(
        finding="0c3e9d1f5a7b2c4d6e8f0a1b2c3d4e5f", observed="Nov 20, 2026, 10:33:10 AM",
        time="2026-11-20T10:33:10Z", event_id="42dbea55-45ad-b2b4-87a8-afa0b1c2d3e5", severity="HIGH",
        cve="CVE-2026-0002", package="libexpat1", version="2.5.0-1", fixed_in="2.5.0-1+deb12u1", score=7.5),
    "schedule-findings-digest": envelope(
        "Scheduled Event", "aws.events", {}, "5d0c1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
        [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{PROJECT}-{ENVIRONMENT}-FindingDigest"],
        time="2026-11-21T07:00:00Z"),
    # ECS's own events about the langgraph service (Rollout on): its deployment ecs-svc/... of revision 2.
    "ecs-deployment-in-progress": ecs_deployment("INFO", "SERVICE_DEPLOYMENT_IN_PROGRESS",
                                                 f"ECS deployment {DEPLOYMENT_ID} in progress.",
                                                 "ddca6449-b258-46c0-8653-e0e3a6a1b2c3"),
    "ecs-deployment-completed": ecs_deployment("INFO", "SERVICE_DEPLOYMENT_COMPLETED",
                                               f"ECS deployment {DEPLOYMENT_ID} completed.",
                                               "ddca6449-b258-46c0-8653-e0e3a6a1b2c4"),
    "ecs-deployment-failed": ecs_deployment("ERROR", "SERVICE_DEPLOYMENT_FAILED",
                                            "ECS deployment circuit breaker: task failed to start.",
                                            "ddca6449-b258-46c0-8653-e0e3a6a1b2c5"),
    "ecs-service-action": envelope("ECS Service Action", "aws.ecs", {
        "eventType": "WARN", "eventName": "SERVICE_TASK_START_IMPAIRED", "clusterArn": CLUSTER_ARN,
        "createdAt": "2026-11-20T10:40:38.725Z"}, "57c9506e-9d21-294c-d2fe-e8738da7e67d", [SERVICE_ARN],
        time="2026-11-20T10:40:38Z"),
    "codebuild-build-failed": build_state("FAILED", "BUILD", "3a5c1b8e-8f3e-4c1a-9d2b-6e7f8a9b0c1d"),
    "codebuild-build-succeeded": build_state("SUCCEEDED", None, "3a5c1b8e-8f3e-4c1a-9d2b-6e7f8a9b0c1e"),
}


if __name__ == "__main__":
    for name, sample in SAMPLES.items():
        (HERE / f"{name}.json").write_text(json.dumps(sample, indent=2) + "\n")
    print(f"wrote {len(SAMPLES)} sample events to {HERE}")
