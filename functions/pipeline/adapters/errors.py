"""Domain exceptions for failures of AWS calls, named for what to do about them."""

from __future__ import annotations

from botocore.exceptions import ClientError


class AwsCallError(RuntimeError):
    """An AWS call failed in a way retrying this invocation may fix (it is re-raised so the
    event is retried or dead-lettered). `refused`: AWS answered that it did not do it (a 4xx:
    invalid, denied, missing, throttled); False when the outcome is unknown (a 5xx: the request
    may have been carried out; AWS General Reference, "API retries")."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


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
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    refused = 400 <= status < 500
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return AccessDeniedError(message, refused=True)
    if code == "AccountLimitExceededException":
        return CapacityError(message, refused=True)
    return AwsCallError(message, refused=refused)
