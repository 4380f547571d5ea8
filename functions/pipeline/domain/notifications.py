"""Messages people can act on: readable as plain email, and usable by AWS Chatbot.

Published with SNS MessageStructure=json: email and SQS subscribers get the plain text;
everything else (Chatbot over HTTPS, Lambda) gets a Chatbot custom notification.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote

from pipeline.domain.naming import Target
from pipeline.domain.records import RunningRevision
from pipeline.domain.rollout import DeploymentRecord, DeploymentState
from pipeline.domain.scans import Finding, ScanVerdict

SUBJECT_LIMIT = 99  # SNS: "less than 100 characters", UTF-8, no line breaks or control characters


@dataclass(frozen=True)
class Notification:
    subject: str
    text: str
    title: str
    description: str
    event_type: str
    resources: tuple[str, ...] = ()
    context: dict[str, str] = field(default_factory=dict)

    def chatbot(self) -> dict:
        return {
            "version": "1.0",
            "source": "custom",
            "content": {"textType": "client-markdown", "title": self.title, "description": self.description},
            "metadata": {
                "summary": self.subject,
                "eventType": self.event_type,
                "relatedResources": list(self.resources),
                "additionalContext": self.context,
            },
        }

    def sns_message(self) -> str:
        return json.dumps({"default": json.dumps(self.chatbot()), "email": self.text, "sqs": self.text})


def _subject(text: str) -> str:
    """One printable line within SNS's limit, cut with an ASCII "...": the SNS API Reference
    takes UTF-8 subjects, but its older text and Amazon Managed Prometheus' SNS receiver page
    say SNS changes a subject with non-ASCII characters, so a subject has none (an elision
    shortened elsewhere becomes "...", any other character "?"; the message itself keeps them)."""
    text = text.replace("…", "...")
    text = " ".join("".join(c if c.isprintable() and c.isascii() else " " if not c.isprintable() else "?"
                            for c in text).split())
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def image_console_link(target: Target, repository: str, digest: str) -> str:
    return (
        f"https://{target.region}.console.aws.amazon.com/ecr/repositories/private/{target.account}/"
        f"{repository}/_/image/{digest}/details?region={target.region}"
    )


def build_console_link(target: Target, project: str, build_id: str) -> str:
    return (
        f"https://{target.region}.console.aws.amazon.com/codesuite/codebuild/{target.account}/projects/"
        f"{project}/build/{quote(build_id, safe='')}/?region={target.region}"
    )


def scan_notification(
    *,
    target: Target,
    service: str,
    repository: str,
    digest: str,
    tag: str | None,
    verdict: ScanVerdict,
    findings: list[Finding],
    registration: str,
    scanner: str,
) -> Notification:
    label = tag or digest.removeprefix("sha256:")[:12]
    # A scan that did not complete found nothing because it did not look: not "no findings".
    worst = verdict.worst or ("no findings" if verdict.completed else f"scan not completed ({verdict.status})")
    link = image_console_link(target, repository, digest)
    lines = [
        f"Service:      {service} ({target.project}, {target.environment})",
        f"Image:        {repository}:{label}",
        f"Digest:       {digest}",
        f"Scanner:      {scanner}",
        f"Findings:     {verdict.summary()}",
        f"Registration: {registration}",
        "",
    ]
    if findings:
        lines.append("Top findings:")
        lines.extend(
            f"  {f.severity:<13} {f.id:<20} {f.package}{' ' + f.version if f.version else ''}"
            f"{' (fixed in ' + f.fixed_in + ')' if f.fixed_in else ''}"
            for f in findings
        )
        lines.append("")
    lines.append(f"Console: {link}")
    text = "\n".join(lines)
    markdown = "\n".join([
        f"*Findings:* {verdict.summary()}",
        f"*Registration:* {registration}",
        *(f"• `{f.severity}` {f.id} {f.package} {('→ ' + f.fixed_in) if f.fixed_in else ''}".rstrip()
          for f in findings[:5]),
        f"<{link}|Open in the ECR console>",
    ])
    return Notification(
        subject=_subject(f"[shipline] {service}:{label} scanned: {worst}"),
        text=text,
        title=f"{service}:{label} scan: {worst}",
        description=markdown,
        event_type="ImageScanned",
        resources=(f"arn:aws:ecr:{target.region}:{target.account}:repository/{repository}",),
        context={"service": service, "digest": digest, "worst": worst, "registration": registration},
    )


def build_failure_notification(*, target: Target, service: str, commit: str, status: str, phase: str,
                               project: str, build_id: str, log_link: str | None, reason: str = "") -> Notification:
    link = log_link or build_console_link(target, project, build_id)
    short = commit[:7] if commit else "unknown"
    text = "\n".join([
        f"Service: {service} ({target.project}, {target.environment})",
        f"Commit:  {commit or 'unknown'}",
        f"Status:  {status} in phase {phase}",
        *([f"Reason:  {reason}"] if reason else []),
        f"Build:   {build_id}",
        "",
        f"Logs: {link}",
    ])
    return Notification(
        subject=_subject(f"[shipline] {service} build {status} at {short} ({phase})"),
        text=text,
        title=f"{service} build {status} at {short}",
        description=f"Phase *{phase}*{': ' + reason if reason else ''}. <{link}|Open the build logs>",
        event_type="BuildFailed",
        resources=(build_id,),
        context={"service": service, "commit": commit, "phase": phase},
    )


NO_CONTAINER_REMEDY = ("Nothing is registered for this service until the task definition has a container built "
                       "from the repository again (or the stack re-renders it: TaskDefinitionMode=render).")
TASK_SIZE_REMEDY = ("Nothing is registered for this service until the manifest's task size holds what its "
                    "containers reserve (raise cpu/memory in services.toml, or lower the containers' own in the "
                    "task definition; or the stack re-renders it: TaskDefinitionMode=render).")


def drift_notification(*, target: Target, service: str, digest: str, problem: str,
                       remedy: str = NO_CONTAINER_REMEDY) -> Notification:
    """The stack and what it registers into disagree: nothing more registers until a person acts."""
    text = "\n".join([
        f"Service: {service} ({target.project}, {target.environment})",
        f"Image:   {target.repository_uri(service)}@{digest}",
        f"Problem: {problem}",
        "",
        remedy,
    ])
    return Notification(
        subject=_subject(f"[shipline] {service}: configuration drift, not registered"),
        text=text,
        title=f"{service}: configuration drift",
        description=f"{problem}. Nothing registers until it is fixed.",
        event_type="ConfigurationDrift",
        resources=(f"arn:aws:ecs:{target.region}:{target.account}:task-definition/{target.family(service)}",),
        context={"service": service, "digest": digest},
    )


def finding_remedy(finding: Finding) -> str:
    """The package a finding is in, as installed, and the version that fixes it."""
    package = f"{finding.package} {finding.version}".strip() or "package not named"
    return f"{package}, " + (f"fixed in {finding.fixed_in}" if finding.fixed_in else "no fix yet")


def findings_digest_notification(*, target: Target, service: str, repository: str, digest: str, tag: str | None,
                                 findings: list[Finding], hour: str,
                                 running: tuple[RunningRevision, ...], rebuild: str = "",
                                 replaced_by: int | None = None) -> Notification:
    """Findings Amazon Inspector reported for an image after its scan message (continuous
    scanning): one message per image per hour, whatever their number. It leads with where the
    image runs (`running`: the services and environments whose current revision it is), and
    gives each finding's package, installed version and fixed version; with
    RebuildOnFixAvailable, `rebuild` says what the request for a rebuild came to, and
    `replaced_by` the revision that runs now when a newer one replaced the image since."""
    label = tag or digest.removeprefix("sha256:")[:12]
    link = image_console_link(target, repository, digest)
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    summary = ", ".join(f"{severity} {n}" for severity, n in counts.items())
    worst = findings[0].severity if findings else "none"
    where = "; ".join(r.describe() for r in running) or (
        f"no longer: {service} in {target.environment} runs revision {replaced_by} now, registered since these "
        "findings" if replaced_by is not None else "nowhere (not the current revision of any service)")
    environments = ", ".join(dict.fromkeys(r.environment for r in running))
    listed = findings[:20]
    lines = [
        f"Running:      {where}",
        f"Service:      {service} ({target.project}, {target.environment})",
        f"Image:        {repository}:{label}",
        f"Digest:       {digest}",
        "Scanner:      Amazon Inspector (continuous scanning)",
        f"New findings: {summary} (reported since this image's scan message, until {hour}:00 UTC)",
        ("Registration: unchanged (the revision keeps running: build an image with the fixed versions to replace it)"
         if replaced_by is None else f"Registration: replaced by revision {replaced_by}"),
        *([f"Rebuild:      {rebuild}"] if rebuild else []),
        "",
        "Findings (severity, vulnerability, package and installed version, fixed version):",
        *(f"  {f.severity:<13} {f.id:<20} {finding_remedy(f)}" for f in listed),
        *([f"  ... and {len(findings) - len(listed)} more"] if len(findings) > len(listed) else []),
        "",
        f"Console: {link}",
    ]
    markdown = "\n".join([
        f"*Running:* {where}",
        f"*New findings:* {summary}",
        *([f"*Rebuild:* {rebuild}"] if rebuild else []),
        *(f"• `{f.severity}` {f.id} {finding_remedy(f)}" for f in findings[:5]),
        f"<{link}|Open in the ECR console>",
    ])
    running_in = f" running in {environments}" if running else ""
    return Notification(
        subject=_subject(f"[shipline] {service}:{label}{running_in}: new findings: {summary}"),
        text="\n".join(lines),
        title=f"{service}:{label}{running_in}: new findings: {worst}",
        description=markdown,
        event_type="FindingsDigest",
        resources=(f"arn:aws:ecr:{target.region}:{target.account}:repository/{repository}",),
        context={"service": service, "digest": digest, "worst": worst, "hour": hour, "running": where,
                 **({"rebuild": rebuild} if rebuild else {})},
    )


def deployment_notification(*, project: str, environment: str, service: str, record: DeploymentRecord,
                            state: DeploymentState, reason: str, running: int | None) -> Notification:
    """The one message a deployment gives when it ends: what happened and the revision that runs now."""
    where = f"{service} in {environment}"
    family = f"{project}-{environment}-{service}"
    what = {"rollout": "deployment", "rollback": "rollback", "automatic rollback": "rollback",
            "other": "deployment"}[record.kind]
    target = f"revision {record.revision}" if record.revision is not None else "a revision"
    runs = f"{family}:{running}" if running is not None else "unknown (see the ECS console)"
    if state == "COMPLETED":
        subject = f"[shipline] {where}: {what} of {target} completed"
        headline = f"The {what} of {family}:{record.revision} completed." if record.revision is not None \
            else f"The {what} completed."
    elif state == "ROLLED_BACK":
        subject = f"[shipline] {where}: {target} failed and was rolled back to revision {running}"
        headline = (f"The deployment of {family}:{record.revision} failed and ECS rolled the service back "
                    f"to revision {running}.")
    else:
        subject = f"[shipline] {where}: {what} of {target} failed"
        headline = f"The {what} of {family}:{record.revision} failed and was not rolled back."
    lines = [headline, "", f"Now running: {runs}", f"Service: {record.service_name} in cluster {record.cluster}",
             f"Deployment: {record.deployment_id}" + (f" ({record.arn})" if record.arn else "")]
    if reason:
        lines.append(f"Reason: {reason}")
    if record.requested_by:
        lines.append(f"Requested by: {record.requested_by}")
    if state != "COMPLETED":
        lines.append("")
        lines.append("Roll back by hand with: shipline rollback --service "
                     f"{service} --environment {environment} [--to REVISION]")
    text = "\n".join(lines)
    return Notification(subject=_subject(subject), text=text, title=_subject(subject), description=text,
                        event_type="DeploymentStateChange", resources=(record.arn,) if record.arn else (),
                        context={"service": service, "environment": environment, "state": state})


def missing_service_notification(*, environment: str, service: str, cluster: str, service_name: str,
                                 problem: str) -> Notification:
    subject = f"[shipline] {service} in {environment}: no ECS service {service_name} to roll out to"
    text = "\n".join([
        f"Rollout is on, but the ECS service {service_name} in cluster {cluster} cannot be updated: {problem}.",
        "Registered revisions of this service are not rolled out until it exists.",
        "Create the service (shipline does not create services), or name the right cluster and service in "
        f"services.toml: [services.{service}.environments.{environment}] cluster = ..., ecs_service = ...",
        "This message is sent once; later revisions are recorded in the ledger as 'service missing'.",
    ])
    return Notification(subject=_subject(subject), text=text, title=_subject(subject), description=text,
                        event_type="RolloutServiceMissing", context={"service": service, "environment": environment})


def untagged_in_use_notification(*, target: Target, service: str, revision: int, image: str) -> Notification:
    """A revision in use names its image by tag: the image it runs cannot be kept from expiring."""
    family = target.family(service)
    subject = f"[shipline] {service} in {target.environment}: revision {revision} in use names its image by tag"
    text = "\n".join([
        f"Service:  {service} ({target.project}, {target.environment})",
        f"Revision: {family}:{revision}, in use (its ECS service or a scheduled task runs it)",
        f"Image:    {image}",
        "",
        "ECS runs the digest it resolved this tag to when it deployed the revision, not the image the tag names "
        "now (every build moves `latest`), and ECS did not say which digest that was (it has no service revision "
        "of it to describe: one created before October 25, 2024 cannot be; a scheduled task resolves the tag at "
        "each run). So shipline cannot tag that "
        "image live-" + target.environment + f"-r{revision}, and the repository's lifecycle policy may expire it "
        "once ImagesToKeep newer images are pushed: ECS could then no longer start, replace or scale its tasks.",
        "Deploy a revision shipline registered (it names its image by digest), or raise ImagesToKeep until then.",
        "This message is sent once per revision.",
    ])
    return Notification(subject=_subject(subject), text=text, title=_subject(subject), description=text,
                        event_type="InUseImageByTag",
                        resources=(f"arn:aws:ecs:{target.region}:{target.account}:task-definition/{family}",),
                        context={"service": service, "revision": str(revision), "image": image})


_CONTROLLER_WAY = {"CODE_DEPLOY": "a CodeDeploy deployment (CreateDeployment) changes its task definition",
                   "EXTERNAL": "a new task set (CreateTaskSet) runs another task definition"}


def other_controller_notification(*, environment: str, service: str, cluster: str, service_name: str,
                                  controller: str) -> Notification:
    subject = f"[shipline] {service} in {environment}: not rolled out, {controller} deploys its ECS service"
    way = _CONTROLLER_WAY.get(controller, "its own controller deploys it")
    text = "\n".join([
        f"Rollout is on, but the ECS service {service_name} in cluster {cluster} uses the {controller} deployment "
        f"controller: ECS's UpdateService cannot change its task definition; {way}.",
        "Registered revisions of this service are not rolled out by shipline. Deploy them with that controller, "
        "set the stack's Rollout to none for this environment, or name an ECS-controlled service in services.toml: "
        f"[services.{service}.environments.{environment}] cluster = ..., ecs_service = ...",
        "This message is sent once; later revisions are recorded in the ledger as 'another controller'.",
    ])
    return Notification(subject=_subject(subject), text=text, title=_subject(subject), description=text,
                        event_type="RolloutOtherController", context={"service": service, "environment": environment})
