"""The local Lambda runtime's stdout: what the functions print goes to their invocation, and a
stream kept past its runtime (Powertools' Logger keeps the sys.stdout it was made with) does not
write to a terminal that has gone."""

from __future__ import annotations

import io
import sys

from shipline.local.runtime import LambdaRuntime


def test_a_stream_kept_past_its_runtime_writes_where_stdout_goes_now():
    saved = sys.stdout
    first_terminal, later = io.StringIO(), io.StringIO()
    try:
        sys.stdout = first_terminal
        with LambdaRuntime(log=io.StringIO(), chaos=None, dead_letter=lambda invocation: None,
                           done=lambda invocation: None):
            kept = sys.stdout  # what a Logger made during this runtime holds on to
        first_terminal.close()  # that runtime's terminal: a test's captured output, say
        sys.stdout = later
        kept.write("written after the runtime ended\n")
        assert later.getvalue() == "written after the runtime ended\n"
    finally:
        sys.stdout = saved


def test_a_retry_waits_for_the_invocations_that_ran_when_its_attempt_failed():
    """Lambda waits a minute before the first retry and two before the second (Lambda Developer
    Guide, "Asynchronous invocation"): a retry here starts only once every invocation that was
    running when its attempt failed has ended. Without that, all three attempts of an event that
    failed because another invocation held something would fail at once and be dead-lettered."""
    import time

    from shipline.local.model import Function
    from tests.support import lambda_stubs

    lambda_stubs.reset()
    dead: list = []
    holding = Function("Holding", "holding", "tests.support.lambda_stubs.holding", {}, timeout=30)
    failing = Function("Failing", "failing", "tests.support.lambda_stubs.failing_while_held", {}, timeout=30)
    with LambdaRuntime(log=io.StringIO(), chaos=3, dead_letter=dead.append, done=lambda invocation: None) as runtime:
        runtime.submit(holding, {"id": "h"})
        runtime.submit(failing, {"id": "f"})
        ended = time.monotonic() + 0.5
        while time.monotonic() < ended:  # time enough for three attempts, were they not delayed
            runtime.pump()
            time.sleep(0.01)
        assert dead == [] and lambda_stubs.SUCCEEDED == []
        lambda_stubs.RELEASE.set()
        ended = time.monotonic() + 20
        while runtime.busy() and time.monotonic() < ended:
            runtime.pump()
            time.sleep(0.01)
    assert dead == [] and "f" in lambda_stubs.SUCCEEDED
