"""ECR lifecycle policies, evaluated as the ECR User Guide describes them, to test a policy
without waiting for ECR to run it.

From "Lifecycle policy properties" (lifecycle_policy_parameters.html):
- rules apply by `rulePriority`, lowest first; priorities are unique; a rule with tagStatus
  `any` must have the highest priority;
- `tagged` needs exactly one of `tagPrefixList` / `tagPatternList`; `untagged` and `any` take
  neither; a pattern has at most four `*` wildcards;
- with several prefixes or patterns, an image is selected only when each of them matches one
  of its tags.
From "How lifecycle policies work" (LifecyclePolicies.html, "Lifecycle policy evaluation rules"):
- an image is expired by exactly one or zero rules;
- an image that matches the tagging requirements of a higher-priority rule cannot be expired
  by a rule with a lower priority; lower rules still count it as if it were not expired;
- only one rule may select untagged images; an image with any tag is not untagged;
- expiry goes by push time, oldest first: `imageCountMoreThan` sorts the selected images newest
  first and expires those beyond the count; `sinceImagePushed` expires those pushed more than
  countNumber days (countUnit) ago.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta


class InvalidPolicyError(ValueError):
    """ECR would refuse this policy (PutLifecyclePolicy: InvalidParameterException)."""


@dataclass(frozen=True)
class StoredImage:
    name: str
    tags: frozenset[str]
    pushed_at: datetime


def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern) + r"\Z")


def validate(policy: dict) -> list[dict]:
    """The rules in the order ECR applies them; InvalidPolicyError where ECR would refuse."""
    rules = sorted(policy["rules"], key=lambda r: r["rulePriority"])
    priorities = [r["rulePriority"] for r in rules]
    if len(set(priorities)) != len(priorities):
        raise InvalidPolicyError("rule priorities must be unique")
    statuses = [r["selection"]["tagStatus"] for r in rules]
    if "any" in statuses[:-1]:
        raise InvalidPolicyError("a rule with tagStatus any must have the highest priority")
    if statuses.count("untagged") > 1:
        raise InvalidPolicyError("only one rule may select untagged images")
    for rule in rules:
        selection = rule["selection"]
        lists = [k for k in ("tagPrefixList", "tagPatternList") if selection.get(k)]
        if selection["tagStatus"] == "tagged" and len(lists) != 1:
            raise InvalidPolicyError("a tagged rule needs exactly one of tagPrefixList and tagPatternList")
        if selection["tagStatus"] != "tagged" and lists:
            raise InvalidPolicyError(f"a {selection['tagStatus']} rule takes no tag list")
        if any(p.count("*") > 4 for p in selection.get("tagPatternList", [])):
            raise InvalidPolicyError("at most four wildcards in a tag pattern")
        if selection["countType"] not in ("imageCountMoreThan", "sinceImagePushed"):
            raise InvalidPolicyError(f"countType {selection['countType']} is not evaluated here")
        if selection["countNumber"] < 1:
            raise InvalidPolicyError("countNumber must be at least 1")
        if rule["action"]["type"] != "expire":
            raise InvalidPolicyError("only expire is evaluated here")
    return rules


def matches(selection: dict, tags: frozenset[str]) -> bool:
    """Whether a rule's tag requirements select an image with these tags."""
    status = selection["tagStatus"]
    if status == "any":
        return True
    if status == "untagged":
        return not tags
    if not tags:
        return False
    if "tagPrefixList" in selection:
        return all(any(t.startswith(p) for t in tags) for p in selection["tagPrefixList"])
    return all(any(_pattern(p).match(t) for t in tags) for p in selection["tagPatternList"])


def first_matching_rule(policy: dict, tags: frozenset[str]) -> dict | None:
    """The rule whose tag requirements claim an image with these tags: only it may expire it."""
    return next((r for r in validate(policy) if matches(r["selection"], tags)), None)


def expired(policy: dict, images: list[StoredImage], now: datetime) -> set[str]:
    """The names of the images one evaluation of the policy expires."""
    claimed: set[str] = set()
    gone: set[str] = set()
    for rule in validate(policy):
        selection = rule["selection"]
        selected = sorted((i for i in images if matches(selection, i.tags)), key=lambda i: i.pushed_at, reverse=True)
        if selection["countType"] == "imageCountMoreThan":
            candidates = selected[selection["countNumber"]:]
        else:
            unit = selection.get("countUnit", "days")
            if unit != "days":
                raise InvalidPolicyError(f"countUnit {unit}")
            limit = now - timedelta(days=selection["countNumber"])
            candidates = [i for i in selected if i.pushed_at < limit]
        gone |= {i.name for i in candidates if i.name not in claimed}
        claimed |= {i.name for i in selected}
    return gone
