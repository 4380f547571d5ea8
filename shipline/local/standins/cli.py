"""What a stand-in command receives and answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Call:
    """One run of a stand-in: its arguments, working directory, environment and standard input."""

    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]
    stdin: str = ""

    @property
    def home(self) -> Path:
        return Path(self.env.get("HOME", "/root"))


@dataclass
class Answer:
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    code: int = 0

    def out(self, line: str) -> Answer:
        self.stdout.append(line)
        return self

    def err(self, line: str) -> Answer:
        self.stderr.append(line)
        return self

    def fail(self, line: str, code: int = 1) -> Answer:
        self.stderr.append(line)
        self.code = code
        return self

    def as_dict(self) -> dict:
        return {"stdout": "".join(f"{line}\n" for line in self.stdout),
                "stderr": "".join(f"{line}\n" for line in self.stderr), "code": self.code}


class Options:
    """Command-line options as the Go CLIs (cobra/pflag) take them: `--name value`,
    `--name=value`, `-n value`; flags without a value; everything else is positional. An
    unknown option is an error, as it is for docker."""

    def __init__(self, argv: tuple[str, ...], *, values: dict[str, str], flags: dict[str, str]):
        self.values: dict[str, list[str]] = {}
        self.flags: set[str] = set()
        self.positional: list[str] = []
        self.error = ""
        index = 0
        while index < len(argv):
            word = argv[index]
            index += 1
            if word == "--":
                self.positional.extend(argv[index:])
                break
            if not word.startswith("-") or word == "-":
                self.positional.append(word)
                continue
            name, eq, inline = word.partition("=")
            if name in values:
                canonical = values[name]
                if eq:
                    value = inline
                elif index < len(argv):
                    value = argv[index]
                    index += 1
                else:
                    self.error = f"flag needs an argument: {name}"
                    return
                self.values.setdefault(canonical, []).append(value)
            elif name in flags:
                if eq and inline.lower() in ("false", "0"):
                    continue
                self.flags.add(flags[name])
            else:
                self.error = f"unknown flag: {name}"
                return

    def one(self, name: str, default: str | None = None) -> str | None:
        found = self.values.get(name)
        return found[-1] if found else default

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])
