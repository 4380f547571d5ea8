"""argparse value types the CLI's commands share: a bad value is argparse's one error line."""

from __future__ import annotations

import argparse


def non_empty(value: str) -> str:
    """A name or secret given on the command line: empty is a mistake, not "the default"."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty (leave the option out for its default)")
    return value
