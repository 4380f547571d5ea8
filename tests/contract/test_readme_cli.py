"""The README's CLI section names only commands and options that exist: each command it shows
answers `--help`, and each option it gives a command is in that command's `--help`."""

from __future__ import annotations

import re

import pytest

from shipline.cli import main
from tests.support.paths import ROOT

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def cli_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text[text.index("## The CLI"):text.index("## The local account")]


def table_rows(section: str, header: str) -> list[list[str]]:
    """The cells of each row of the table whose header row starts with `header`."""
    lines = section.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows


def usages(cell: str) -> list[str]:
    """The `shipline ...` code spans of a table cell."""
    return [span for span in re.findall(r"`([^`]+)`", cell) if span.startswith("shipline")]


def command_of(usage: str) -> tuple[str, ...]:
    """The command words of a usage line: `shipline local run --events F` -> ("local", "run")."""
    words = []
    for word in usage.split()[1:]:
        if not re.fullmatch(r"[a-z]+", word):
            break
        words.append(word)
    return tuple(words)


def help_of(command: tuple[str, ...], capsys) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    out = capsys.readouterr()
    assert exited.value.code == 0, f"shipline {' '.join(command)} --help: {out.err.strip()}"
    return out.out


def documented_commands() -> dict[tuple[str, ...], set[str]]:
    found: dict[tuple[str, ...], set[str]] = {}
    for row in table_rows(cli_section(), "command"):
        for usage in usages(row[0]):
            found.setdefault(command_of(usage), set()).update(OPTION.findall(usage))
    return found


def test_the_readme_documents_every_command_and_some_options():
    commands = documented_commands()
    assert {("demo",), ("local", "run"), ("local", "serve"), ("status",), ("trigger",), ("plan",),
            ("manifest",)} <= set(commands)
    assert sum(len(options) for options in commands.values()) >= 15


@pytest.mark.parametrize("command", sorted(documented_commands()), ids=" ".join)
def test_each_command_in_the_readme_exists_with_the_options_it_shows(command, capsys):
    text = help_of(command, capsys)
    for option in sorted(documented_commands()[command]):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), \
            f"README shows `shipline {' '.join(command)} {option}`; its --help has no {option}"


def test_the_account_options_are_taken_by_the_commands_the_readme_says(capsys):
    section = cli_section()
    options = {option for row in table_rows(section, "option") for option in OPTION.findall(row[0])}
    assert {"--parameter-overrides", "--chaos", "--codebuild-quota", "--scanning", "--failing-scans"} <= options
    for command in (("demo",), ("local", "run"), ("local", "serve")):
        text = help_of(command, capsys)
        missing = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text))
        assert not missing, f"shipline {' '.join(command)} --help lacks {missing}"


def test_every_option_the_section_mentions_belongs_to_some_command(capsys):
    helps = " ".join(help_of(command, capsys) for command in documented_commands())
    top = help_of((), capsys)
    for option in sorted(set(OPTION.findall(cli_section()))):
        assert option in helps or option in top, f"the README's CLI section mentions {option}; no command takes it"


def test_the_check_catches_an_option_that_does_not_exist(capsys):
    text = help_of(("trigger",), capsys)
    assert not re.search(r"(?<![\w-])--no-such-option(?![\w-])", text)
    with pytest.raises(SystemExit) as exited:
        main(["no-such-command", "--help"])
    assert exited.value.code == 2
    capsys.readouterr()
