"""The local account: moto's server on loopback, provisioned from template.yaml."""

from __future__ import annotations

import pytest

from shipline.local.account import LocalAccount
from tests.support.events import load_event


@pytest.fixture
def local_account():
    """Factory: a fresh local account per call (the previous one stops: one emulated account runs
    in a process at a time), stopped at the end of the test."""
    started: list[LocalAccount] = []

    def make(**options) -> LocalAccount:
        while started:
            started.pop().stop()
        account = LocalAccount(**options)
        account.start()
        started.append(account)
        return account

    yield make
    for account in started:
        account.stop()


def push_event(account: LocalAccount, commit: str, old: str | None = None) -> dict:
    event = load_event("codecommit-push" if old else "codecommit-branch-created")
    event["detail"]["commitId"] = commit
    if old:
        event["detail"]["oldCommitId"] = old
    return event
