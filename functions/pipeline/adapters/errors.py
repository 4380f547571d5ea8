"""Domain exceptions for failures of AWS calls, named for what to do about them."""

from __future__ import annotations

from botocore.exceptions import ClientError


class AwsCallError(RuntimeError):
    """An AWS call failed in a way retrying this invocation may fix (it is re-raised so the
    event is retried or dead-lettered)."""


class AccessDeniedError(AwsCallError):
    """The function's role lacks a permission. Fix the policy in template.yaml."""


class CapacityError(AwsCallError):
    """AWS has no room for this now (CodeBuild's build queue is full: AccountLimitExceeded). Not
    retried by botocore; the caller tries again later."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def wrap(exc: ClientError, doing: str) -> AwsCallError:
    code = error_code(exc)
    message = f"{doing}: {code}: {exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return AccessDeniedError(message)
    if code == "AccountLimitExceededException":
        return CapacityError(message)
    return AwsCallError(message)
