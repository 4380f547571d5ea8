"""Lambda delivers asynchronous events concurrently, sometimes twice, in any order. Under
`--chaos SEED` the local account does the same, reproducibly; the effects must be those of an
orderly run, with no failed invocation and no metric counted twice."""

import pytest

from tests.local.conftest import push_event
from tests.support.events import load_event
from tests.support.stacks import GITHUB

SEEDS = (1, 2, 3)  # the push of every service (make demo's case) under each; the other cases under two
AFTER = load_event("codecommit-push")["detail"]["commitId"]


def effects(report: dict) -> dict:
    """What a run did, apart from what differs between any two builds (digests, times)."""
    return {
        "repositories": sorted(r["name"] for r in report["repositories"]),
        "builds": sorted((b["service"], b["commit"], b["status"]) for b in report["builds"]),
        "images": sorted((i["repository"], tuple(i["tags"])) for i in report["images"]),
        "taskDefinitions": sorted((t["family"], t["revision"]) for t in report["taskDefinitions"]),
        "notifications": sorted(n["subject"] for n in report["notifications"]),
        "metrics": report["metrics"],
        "errors": report["errors"],
    }


CASES = {
    "push of a new branch": (dict(), lambda account: account.put_event(push_event(account, AFTER))),
    "github push": (dict(parameters=GITHUB), lambda account: account.invoke_webhook(load_event("github-push"))),
    "staging gate holds a critical image": (
        dict(environment="staging", findings={"langgraph": {"CRITICAL": 1}}),
        lambda account: account.put_event(push_event(account, AFTER))),
}


def _run(local_account, case: str, chaos: int | None) -> dict:
    options, act = CASES[case]
    account = local_account(chaos=chaos, **options)
    act(account)
    account.run()
    return account.report()


@pytest.fixture(scope="module")
def orderly():
    return {}


RUNS = [(case, seed) for case in CASES for seed in (SEEDS if case == "push of a new branch" else SEEDS[:2])]


@pytest.mark.parametrize(("case", "seed"), RUNS)
def test_chaos_gives_the_orderly_runs_effects(local_account, orderly, case, seed):
    if case not in orderly:
        orderly[case] = _run(local_account, case, None)
    chaotic = _run(local_account, case, seed)
    assert effects(chaotic) == effects(orderly[case])
    assert chaotic["errors"] == [] and chaotic["invocations"]["failed"] == 0
    orderly.setdefault("chaotic", []).append(chaotic["invocations"])


def test_chaos_really_duplicated_and_collided(orderly):
    """The runs above met what chaos is for: duplicate deliveries, and effects found in flight."""
    runs = orderly.get("chaotic", [])
    assert len(runs) == len(RUNS)
    assert sum(r["duplicates"] for r in runs) > 0
    assert sum(r["inFlight"] for r in runs) > 0


def test_the_same_seed_delivers_the_same_way(local_account):
    first = _run(local_account, "github push", 7)["invocations"]
    again = _run(local_account, "github push", 7)["invocations"]
    assert first["duplicates"] == again["duplicates"] and first["count"] == again["count"]
