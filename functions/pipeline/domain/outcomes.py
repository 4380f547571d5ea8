"""What a failed event comes to, declared by the exception that failed it.

The handlers' `event_outcomes` catches these kinds, not the exceptions themselves, so that a
function does not import the modules of every exception another function can raise (the build
trigger imported the ECR adapter and the task-definition domain for two of them). An exception
not of these kinds is re-raised: Lambda retries the event, then dead-letters it.
"""

from __future__ import annotations


class Rejected(Exception):
    """Input that can never succeed (a bad event, an image gone): one error line, the
    EventsRejected metric, and the event is dropped."""


class Drift(Rejected):
    """A rejection meaning the stack and what it registers into disagree: also the
    ConfigurationDrift metric, which an alarm watches."""


class Refused(Exception):
    """A request shipline will not act on (a source it does not track): one warning line and
    the RequestsRefused metric."""


class Ignored(Exception):
    """An event for another project, environment, repository or branch: one info line."""
