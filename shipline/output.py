"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def summary(report: dict) -> str:
    """The local account's report as readable tables."""
    parts = [
        "Repositories\n" + table(["name", "scanOnPush", "encryption"],
                                 [[r["name"], r["scanOnPush"], r["encryption"]] for r in report["repositories"]]),
        "Builds\n" + table(["service", "commit", "status"],
                           [[b["service"], b["commit"][:7], b["status"]] for b in report["builds"]]),
        "Images\n" + table(["repository", "digest", "tags"],
                           [[i["repository"], i["digest"][:19], " ".join(i["tags"])] for i in report["images"]]),
        "Task-definition revisions\n" + table(
            ["family", "revision", "image"],
            [[t["family"], t["revision"], c["image"].rsplit("/", 1)[-1][:60]]
             for t in report["taskDefinitions"] for c in t["containers"]]),
        "Notifications\n" + table(["subject"], [[n["subject"]] for n in report["notifications"]]),
    ]
    if report.get("deployments"):
        parts.append("Deployments (ECS services)\n" + table(
            ["service", "cluster/service", "revision", "state", "runs"],
            [[d["service"], f"{d['cluster']}/{d['serviceName']}", d["taskDefinition"].rsplit(":", 1)[-1], d["state"],
              d["running"].rsplit(":", 1)[-1]] for d in report["deployments"]]))
    if report.get("webhookResponses"):
        parts.append("Webhook responses\n" + table(
            ["status", "body"], [[w["statusCode"], w["body"]] for w in report["webhookResponses"]]))
    if report.get("errors"):
        parts.append("Errors\n" + "\n".join(f"  - {e}" for e in report["errors"]))
    return "\n\n".join(parts)
