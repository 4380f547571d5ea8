"""argparse value types the CLI's commands share: a bad value is argparse's one error line."""

from __future__ import annotations

import argparse
import re


def non_empty(value: str) -> str:
    """A name or secret given on the command line: empty is a mistake, not "the default"."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty (leave the option out for its default)")
    return value


def role_arn(value: str) -> str:
    """An IAM role's ARN, as sts:AssumeRole takes it."""
    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", value):
        raise argparse.ArgumentTypeError(f"'{value}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    return value
