"""`shipline promote` and `shipline approve`: the CLI face of promotion by digest
(pipeline.flows.promotion). Both read the stacks' outputs for their ledgers and the target's
approval rules, and act with the operator's credentials; the source side, with an assumed
role when it is another account."""

from __future__ import annotations

import argparse
import os
from typing import Any

from pipeline.domain.manifest import ENVIRONMENTS, load_manifest
from pipeline.domain.promotion import PromotionError, Route, parse_policy
from shipline.argtypes import non_empty, role_arn

HELP_PROMOTE = """Move the image an environment registered into another environment's repository, unchanged
(same digest, no build): its commit tag comes along, and the target's own chain (scan, gate,
registration) runs on the push. The digest is --digest, else the one the source environment's
ledger says is current. Where the target stack has PromotionApproval=required, this records a
pending promotion and copies nothing until `shipline approve`."""

HELP_APPROVE = """Approve a pending promotion into an environment, and copy the image. The ledger records who
approved and when. The requester cannot approve their own promotion unless the target stack has
PromotionSelfApproval=true; of concurrent approvals one copies, the others say who approved."""


def add_commands(sub: Any, endpoint: Any) -> None:
    """Register `promote` and `approve` on the CLI's subcommands."""
    promote = sub.add_parser("promote", help="move a registered image into another environment, by digest",
                             description=HELP_PROMOTE)
    promote.add_argument("--service", "-s", required=True, help="the manifest service")
    promote.add_argument("--from", dest="source", required=True, choices=ENVIRONMENTS, help="source environment")
    promote.add_argument("--to", dest="target", required=True, choices=ENVIRONMENTS, help="target environment")
    promote.add_argument("--digest", help="sha256:... (default: the source environment's registered image)")
    _stacks(promote)
    endpoint(promote)
    promote.set_defaults(run=run_promote)

    approve = sub.add_parser("approve", help="approve a pending promotion into an environment, and copy it",
                             description=HELP_APPROVE)
    approve.add_argument("--service", "-s", required=True, help="the manifest service")
    approve.add_argument("--environment", "-e", required=True, choices=ENVIRONMENTS,
                         help="the environment the promotion goes into")
    approve.add_argument("--digest", help="which promotion (default: the only one pending)")
    _stacks(approve)
    endpoint(approve)
    approve.set_defaults(run=run_approve)


def _stacks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-stack", type=non_empty, help="the source environment's stack (default shipline-<from>)")
    parser.add_argument("--to-stack", type=non_empty, help="the target environment's stack (default shipline-<to>)")
    parser.add_argument("--role-arn", type=role_arn,
                        help="role to assume for the source side (its stack, ledger and repository) when it is another "
                             "account (default: the target stack's PromotionSourceRoleArn output, if set)")


def run_promote(args: argparse.Namespace) -> int:
    from pipeline.flows import promotion

    Route("", args.service, args.source, args.target)  # --from and --to differ, before any call
    manifest, outputs = _target(args, args.target)
    ends, requester = _ends(args, manifest, outputs, args.source, args.target)
    outcome, record = promotion.promote(ends, digest=args.digest, requester=requester)
    lines = {
        "copied": f"promoted {record.describe()}: copied into {ends.route.target_repository()}:{record.tag}; "
                  f"{ends.route.target}'s own chain scans, gates and registers it",
        "pending approval": f"promotion recorded, waiting for approval ({ends.route.target} requires it): "
                            f"{record.describe()}. Someone else runs: shipline approve --service "
                            f"{record.service} --environment {ends.route.target} --digest {record.digest}",
        "already pending": f"already waiting for approval: {record.describe()}",
        "already promoted": f"already promoted at {record.copied_at}: {record.describe()}",
    }
    print(lines[outcome])
    return 0


def run_approve(args: argparse.Namespace) -> int:
    from pipeline.adapters import ledger
    from pipeline.domain.promotion import choose_pending
    from pipeline.domain.status import partition
    from pipeline.flows import promotion

    manifest, outputs = _target(args, args.environment)
    service = manifest.service(args.service).name
    # The source environment is the one the promotion names.
    records = ledger.promotions(outputs["LedgerTableName"], partition(manifest.project.name, args.environment,
                                                                      service))
    placeholder = Route(manifest.project.name, service, "(source)", args.environment)
    source = choose_pending(records, args.digest, placeholder).source
    ends, approver = _ends(args, manifest, outputs, source, args.environment)
    outcome, record = promotion.approve(ends, digest=args.digest, approver=approver)
    lines = {
        "copied": f"approved and copied into {ends.route.target_repository()}:{record.tag}: {record.describe()}",
        "already approved": f"already approved, nothing copied by this call: {record.describe()}",
        "already copied": f"already promoted at {record.copied_at}: {record.describe()}",
    }
    print(lines[outcome])
    return 0


# ---------------------------------------------------------------------------- the two sides
def _target(args: argparse.Namespace, target: str) -> tuple[Any, dict[str, str]]:
    """The manifest and the target stack's outputs."""
    from pipeline.adapters.clients import client
    from shipline.cli import _use_endpoint

    _use_endpoint(args.endpoint_url)
    manifest = load_manifest(args.manifest)
    manifest.service(args.service)  # UnknownServiceError names it, before any call
    return manifest, _outputs(client("cloudformation"), args.to_stack or f"shipline-{target}", target)


def _ends(args: argparse.Namespace, manifest: Any, outputs: dict[str, str], source: str,
          target: str) -> tuple[Any, str]:
    """Both sides of the promotion, and who is asking (sts GetCallerIdentity)."""
    from pipeline.adapters.clients import client
    from pipeline.flows.promotion import Ends

    route = Route(manifest.project.name, manifest.service(args.service).name, source, target)
    policy = parse_policy(outputs.get("PromotionApproval", ""), args.to_stack or f"shipline-{target}")
    role = args.role_arn or outputs.get("PromotionSourceRoleArn", "")
    source_client, registry = _assumed(client("sts"), role) if role else (client, "")
    source_outputs = _outputs(source_client("cloudformation"), args.from_stack or f"shipline-{source}", source)
    ends = Ends(route=route, source_table=source_outputs["LedgerTableName"], target_table=outputs["LedgerTableName"],
                policy=policy, self_approval=outputs.get("PromotionSelfApproval", "false") == "true",
                source_ecr=source_client("ecr"), source_dynamodb=source_client("dynamodb"),
                target_ecr=client("ecr"), source_registry=registry)
    return ends, str(client("sts").get_caller_identity()["Arn"])


def _assumed(sts: Any, role: str) -> tuple[Any, str]:
    """Clients of the source account, through sts:AssumeRole of `role` (AWS STS API Reference,
    AssumeRole: the role's trust policy must admit the caller)."""
    import boto3

    from pipeline.adapters.clients import RETRIES

    session_name = f"shipline-promote-{os.environ.get('USER', 'cli')}"[:64]
    credentials = sts.assume_role(RoleArn=role, RoleSessionName=session_name)["Credentials"]
    session = boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                    aws_secret_access_key=credentials["SecretAccessKey"],
                                    aws_session_token=credentials["SessionToken"])
    account = role.split(":")[4] if role.count(":") >= 5 else ""
    return (lambda service: session.client(service, config=RETRIES)), account


def _outputs(cloudformation: Any, stack: str, environment: str) -> dict[str, str]:
    """The stack's outputs, once it is known to be `environment`'s (its Environment output): a
    stack of another environment would lend its approval policy and ledger to this one's."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except (ClientError, BotoCoreError) as exc:
        raise PromotionError(f"cannot read stack {stack} ({exc}): deploy it, or name it with --from-stack/--to-stack"
                             ) from None
    outputs = {item["OutputKey"]: str(item.get("OutputValue", "")) for item in found}
    if "LedgerTableName" not in outputs:
        raise PromotionError(f"stack {stack} has no output LedgerTableName: is it a shipline stack?")
    named = outputs.get("Environment", "")
    if named != environment:
        which = f"{named}'s" if named else "of no named environment (no Environment output: deploy it again)"
        raise PromotionError(f"stack {stack} is {which}, not {environment}'s: name {environment}'s stack with "
                             "--from-stack/--to-stack")
    return outputs
