"""ECR PutLifecyclePolicy's rules, which moto does not check (it stores any JSON), checked by the
local account as the ECR User Guide gives them ("Lifecycle policy properties in Amazon ECR"):
- every rule has a `rulePriority`, a positive integer unique in the policy; a rule whose
  `tagStatus` is `any` must have the highest one;
- `tagStatus` is `tagged`, `untagged` or `any`; `tagged` takes a `tagPrefixList` or a
  `tagPatternList` (one of them, not empty), the others neither; a pattern has at most four `*`;
- `countType` is `imageCountMoreThan` (no `countUnit`) or `sinceImagePushed` (and the other
  `sinceImage...` types), which takes `countUnit` `days`; `countNumber` is a positive integer;
- `action.type` is `expire` (or `transition`, for archiving).
A policy that breaks one is InvalidParameterException, as ECR answers; the text after "Lifecycle
policy validation failure:" is the local account's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.ecr.exceptions import InvalidParameterException
from moto.ecr.responses import ECRResponse

from shipline.local.patches import Patches

SINCE = ("sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _rule_problem(rule: Any) -> str | None:
    if not isinstance(rule, dict):
        return "a rule is not an object"
    if not _positive(rule.get("rulePriority")):
        return "rulePriority must be a positive integer"
    selection = rule.get("selection")
    if not isinstance(selection, dict):
        return f"rule {rule['rulePriority']}: selection is required"
    status = selection.get("tagStatus")
    lists = [key for key in ("tagPrefixList", "tagPatternList") if key in selection]
    if status not in ("tagged", "untagged", "any"):
        return f"rule {rule['rulePriority']}: tagStatus must be tagged, untagged or any"
    if status == "tagged" and (len(lists) != 1 or not selection[lists[0]]):
        return f"rule {rule['rulePriority']}: a tagged rule takes one of tagPrefixList and tagPatternList"
    if status != "tagged" and lists:
        return f"rule {rule['rulePriority']}: {lists[0]} is only for tagStatus tagged"
    if any(str(p).count("*") > 4 for p in selection.get("tagPatternList") or []):
        return f"rule {rule['rulePriority']}: a tag pattern has at most four wildcards"
    count = selection.get("countType")
    if count == "imageCountMoreThan":
        if "countUnit" in selection:
            return f"rule {rule['rulePriority']}: countUnit is not for imageCountMoreThan"
    elif count in SINCE:
        if selection.get("countUnit") != "days":
            return f"rule {rule['rulePriority']}: {count} takes countUnit days"
    else:
        return f"rule {rule['rulePriority']}: countType must be imageCountMoreThan or sinceImagePushed"
    if not _positive(selection.get("countNumber")):
        return f"rule {rule['rulePriority']}: countNumber must be a positive integer"
    if (rule.get("action") or {}).get("type") not in ("expire", "transition"):
        return f"rule {rule['rulePriority']}: action type must be expire"
    return None


def policy_problem(text: str) -> str | None:
    """What ECR would refuse in a lifecycle policy, or None."""
    try:
        policy = json.loads(text)
    except ValueError:
        return "the policy is not JSON"
    rules = policy.get("rules") if isinstance(policy, dict) else None
    if not isinstance(rules, list) or not rules:
        return "the policy must have rules"
    for rule in rules:
        problem = _rule_problem(rule)
        if problem:
            return problem
    priorities = [r["rulePriority"] for r in rules]
    if len(set(priorities)) != len(priorities):
        return "each rule's rulePriority must be unique"
    for rule in rules:
        if rule["selection"]["tagStatus"] == "any" and rule["rulePriority"] != max(priorities):
            return f"rule {rule['rulePriority']}: a rule with tagStatus any must have the highest rulePriority"
    return None


def install(patches: Patches) -> None:
    stored: Callable[[ECRResponse], Any] = ECRResponse.put_lifecycle_policy

    def put_lifecycle_policy(response: ECRResponse) -> Any:
        problem = policy_problem(str(response._get_param("lifecyclePolicyText") or ""))
        if problem:
            raise InvalidParameterException("Invalid parameter at 'LifecyclePolicyText' failed to satisfy "
                                            f"constraint: 'Lifecycle policy validation failure: {problem}'")
        return stored(response)

    patches.set(ECRResponse, "put_lifecycle_policy", put_lifecycle_policy)
