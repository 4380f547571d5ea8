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
