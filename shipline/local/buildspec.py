"""A buildspec (version 0.2), run as CodeBuild runs it.

What CodeBuild documents, and this follows (CodeBuild User Guide, "Build specification
reference" and "Build phase transitions"; the CodeBuild team on arrays in aws/aws-cdk#26694):
- Phases run in order: install, pre_build, build, post_build. In a phase, commands run one
  at a time; the first that fails stops the phase, its `finally` commands still run, and the
  phase fails.
- A failed install or pre_build skips build and post_build. A failed build still runs
  post_build (with CODEBUILD_BUILD_SUCCEEDING=0). `on-failure: ABORT` ends the build after the
  failed phase; `CONTINUE` goes on with the next phase.
- Each command runs in its own shell process (`env.shell`: bash or /bin/sh, sh by default).
  Only the working directory and scalar variables carry over to the next command: arrays,
  shell options (`set -e`, `pipefail`) and functions do not. A variable keeps its exported
  or plain state: a plain assignment is seen by the next command's shell, not by the
  programs it starts.
- `env.variables` are exported environment variables; a StartBuild override wins over the
  project's, which wins over the buildspec's. `env.exported-variables` are read when the
  post_build phase ends.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
PhaseStatus = Literal["SUCCEEDED", "FAILED", "TIMED_OUT"]

# Set by the shell itself; never carried from one command to the next.
_SHELL_OWN = {
    "BASH", "BASHOPTS", "BASHPID", "BASH_ALIASES", "BASH_ARGC", "BASH_ARGV", "BASH_ARGV0", "BASH_CMDS",
    "BASH_COMMAND", "BASH_EXECUTION_STRING", "BASH_LINENO", "BASH_LOADABLES_PATH", "BASH_REMATCH", "BASH_SOURCE",
    "BASH_SUBSHELL", "BASH_VERSINFO", "BASH_VERSION", "COLUMNS", "COMP_WORDBREAKS", "DIRSTACK", "EPOCHREALTIME",
    "EPOCHSECONDS", "EUID", "FUNCNAME", "GROUPS", "HISTCMD", "HISTFILE", "HISTFILESIZE", "HISTSIZE", "HOSTNAME",
    "HOSTTYPE", "IFS", "LINENO", "LINES", "MACHTYPE", "MAILCHECK", "OLDPWD", "OPTARG", "OPTERR", "OPTIND",
    "OSTYPE", "PIPESTATUS", "PPID", "PS1", "PS2", "PS4", "PWD", "RANDOM", "SECONDS", "SHELL", "SHELLOPTS", "SHLVL",
    "SRANDOM", "UID", "_",
}
_STATE = "__SHIPLINE_STATE"
_PLAIN = "__SHIPLINE_PLAIN_"

# Runs after the command (an EXIT trap, so `exit` in the command is caught too): the working
# directory, then every scalar variable with whether it is exported. Arrays are left out.
_BASH_SAVE = r"""
__shipline_save() {
  __shipline_rc=$?
  {
    printf '%s\0' "$PWD"
    __shipline_arrays=" $(compgen -A arrayvar | tr '\n' ' ') "
    __shipline_exported=" $(compgen -e | tr '\n' ' ') "
    for __shipline_name in $(compgen -v); do
      case "$__shipline_arrays" in *" $__shipline_name "*) continue ;; esac
      case "$__shipline_name" in __shipline_*) continue ;; esac
      case "$__shipline_exported" in
        *" $__shipline_name "*) printf 'x%s=%s\0' "$__shipline_name" "${!__shipline_name}" ;;
        *) printf 'p%s=%s\0' "$__shipline_name" "${!__shipline_name}" ;;
      esac
    done
  } > "$__SHIPLINE_STATE"
  exit "$__shipline_rc"
}
trap __shipline_save EXIT
for __shipline_name in $(compgen -e); do
  case "$__shipline_name" in
    __SHIPLINE_PLAIN_*) printf -v "${__shipline_name#__SHIPLINE_PLAIN_}" '%s' "${!__shipline_name}"
                        unset "$__shipline_name" ;;
  esac
done
unset __shipline_name
"""
# /bin/sh has no compgen: `export -p` and `set` give the exported and all variables.
_SH_SAVE = r"""
__shipline_save() {
  __shipline_rc=$?
  { printf '%s\n' "$PWD"; echo '#exported'; export -p; echo '#all'; set; } > "$__SHIPLINE_STATE"
  exit "$__shipline_rc"
}
trap __shipline_save EXIT
"""


class BuildspecError(ValueError):
    """The buildspec cannot be read (CodeBuild's YAML_FILE_ERROR)."""


@dataclass(frozen=True)
class Phase:
    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: Literal["ABORT", "CONTINUE"] | None = None


@dataclass(frozen=True)
class Buildspec:
    shell: str
    variables: dict[str, str]
    exported: tuple[str, ...]
    phases: dict[str, Phase]
    git_credential_helper: bool = False  # env.git-credential-helper: the build may fetch from its source


def parse_buildspec(text: str) -> Buildspec:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BuildspecError(f"YAML_FILE_ERROR: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict) or str(document.get("version")) != "0.2":
        raise BuildspecError("YAML_FILE_ERROR: version must be 0.2")
    env = document.get("env") or {}
    shell = str(env.get("shell", "sh"))
    if shell not in ("bash", "sh", "/bin/sh"):
        raise BuildspecError(f"YAML_FILE_ERROR: unsupported shell {shell}")
    variables = {str(k): str(v) for k, v in (env.get("variables") or {}).items()}
    phases = {}
    for name, body in (document.get("phases") or {}).items():
        if name not in PHASES:
            raise BuildspecError(f"YAML_FILE_ERROR: unknown phase {name}")
        body = body or {}
        on_failure = body.get("on-failure")
        if on_failure not in (None, "ABORT", "CONTINUE"):
            raise BuildspecError(f"YAML_FILE_ERROR: {name}: on-failure must be ABORT or CONTINUE")
        phases[name] = Phase(name, _commands(name, body.get("commands")),
                             _commands(name, (body.get("finally") or [])), on_failure)
    helper = str(env.get("git-credential-helper", "no")).lower() in ("yes", "true")
    return Buildspec("bash" if shell == "bash" else "sh", variables,
                     tuple(str(v) for v in env.get("exported-variables") or ()), phases, helper)


def _commands(phase: str, value: object) -> tuple[str, ...]:
    """A phase's commands. A plain YAML scalar holding ": " is a mapping, not a string; CodeBuild
    refuses it ("found subkeys instead"), and so does this."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BuildspecError(f"YAML_FILE_ERROR: {phase}: expected Commands to be a list")
    for index, command in enumerate(value):
        if not isinstance(command, str):
            found = "found subkeys instead" if isinstance(command, dict) else f"found {type(command).__name__}"
            raise BuildspecError(f"YAML_FILE_ERROR: Expected Commands[{index}] to be of string type: {found} "
                                 f"(phase {phase})")
    return tuple(value)


@dataclass
class PhaseResult:
    phase: str  # INSTALL, PRE_BUILD, ...
    status: PhaseStatus
    context: str = ""  # "COMMAND_EXECUTION_ERROR: Error while executing command: ... Reason: exit status 1"
    started: float = 0.0
    ended: float = 0.0


@dataclass
class Shell:
    """The state one command hands to the next: working directory, variables and their export."""

    cwd: Path
    exported: dict[str, str]
    plain: dict[str, str] = field(default_factory=dict)


@dataclass
class PhasesRun:
    phases: list[PhaseResult]
    exported: dict[str, str]  # env.exported-variables at the end of post_build

    @property
    def succeeded(self) -> bool:
        return all(p.status == "SUCCEEDED" for p in self.phases)

    @property
    def timed_out(self) -> bool:
        return any(p.status == "TIMED_OUT" for p in self.phases)


def run_phases(spec: Buildspec, shell: Shell, log: Callable[[str], None], *, deadline: float) -> PhasesRun:
    """Run the buildspec's phases with CodeBuild's transitions."""
    results: list[PhaseResult] = []
    failing = False
    for name in PHASES:
        phase = spec.phases.get(name, Phase(name))
        shell.exported["CODEBUILD_BUILD_SUCCEEDING"] = "0" if failing else "1"
        result = _run_phase(spec, phase, shell, log, deadline)
        results.append(result)
        if result.status == "SUCCEEDED":
            continue
        if result.status == "TIMED_OUT":
            break  # the build's timeout ends it: no later phase runs (BuildPhase: "TIMED_OUT")
        failing = True
        if phase.on_failure == "CONTINUE":
            continue
        if phase.on_failure == "ABORT" or name in ("install", "pre_build"):
            break  # a failed build phase, by default, still runs post_build
    exported = {name: shell.exported.get(name, shell.plain.get(name, "")) for name in spec.exported}
    return PhasesRun(results, exported)


def _run_phase(spec: Buildspec, phase: Phase, shell: Shell, log: Callable[[str], None],
               deadline: float) -> PhaseResult:
    started = time.time()
    label = phase.name.upper()
    log(f"Entering phase {label}")
    context = ""
    for command in phase.commands:
        code = run_command(spec.shell, command, shell, log, deadline)
        if code and time.monotonic() >= deadline:
            # The build's timeout ended the command: the phase and the build are TIMED_OUT (CodeBuild
            # API Reference, BuildPhase and Build); the context's text is the local account's own.
            log(f"Phase complete: {label} State: TIMED_OUT")
            return PhaseResult(label, "TIMED_OUT", "BUILD_TIMEOUT: Build has timed out.", started, time.time())
        if code:
            context = f"COMMAND_EXECUTION_ERROR: Error while executing command: {command}. Reason: exit status {code}"
            log(f"Command did not exit successfully {command} exit status {code}")
            break
    for command in phase.finally_commands:
        code = run_command(spec.shell, command, shell, log, deadline)
        if code and not context:
            context = f"COMMAND_EXECUTION_ERROR: Error while executing command: {command}. Reason: exit status {code}"
            log(f"Command did not exit successfully {command} exit status {code}")
    status: PhaseStatus = "FAILED" if context else "SUCCEEDED"
    log(f"Phase complete: {label} State: {status}")
    log(f"Phase context status code: {context.partition(':')[0]} Message: {context.partition(': ')[2]}")
    return PhaseResult(label, status, context, started, time.time())


def run_command(shell_kind: str, command: str, shell: Shell, log: Callable[[str], None], deadline: float) -> int:
    """One command in its own shell process; its working directory and scalar variables are
    handed to the next. Returns its exit status."""
    log(f"Running command {command}")
    with tempfile.NamedTemporaryFile(prefix="shipline-state-", delete=False) as state:
        state_path = Path(state.name)
    environment = {**shell.exported, _STATE: str(state_path)}
    if shell_kind == "bash":
        environment |= {f"{_PLAIN}{k}": v for k, v in shell.plain.items()}
        argv = ["bash", "-c", f"{_BASH_SAVE}\n{command}"]
    else:
        prelude = "".join(f"{k}={shlex.quote(v)}\n" for k, v in shell.plain.items())
        argv = ["/bin/sh", "-c", f"{_SH_SAVE}\n{prelude}{command}"]
    try:
        completed = subprocess.run(argv, cwd=shell.cwd, env=environment, stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=max(1.0, deadline - time.monotonic()), check=False)
        output = (completed.stdout + completed.stderr).decode("utf-8", "replace")
        code = completed.returncode
    except subprocess.TimeoutExpired:
        output, code = "", 124
    for line in output.splitlines():
        log(line)
    try:
        _carry(shell_kind, state_path.read_bytes(), shell)
    finally:
        state_path.unlink(missing_ok=True)
    return code


def _carry(shell_kind: str, saved: bytes, shell: Shell) -> None:
    if not saved:
        return  # the shell died before saving (killed, timed out): nothing carries over
    if shell_kind == "bash":
        cwd, *entries = saved.decode("utf-8", "replace").split("\0")
        exported: dict[str, str] = {}
        plain: dict[str, str] = {}
        for entry in filter(None, entries):
            kind, (name, _, value) = entry[0], entry[1:].partition("=")
            if name in _SHELL_OWN or name.startswith(("__shipline", "__SHIPLINE")):
                continue
            (exported if kind == "x" else plain)[name] = value
    else:
        text = saved.decode("utf-8", "replace")
        cwd, _, rest = text.partition("\n")
        exported_part, _, all_part = rest.partition("\n#all\n")
        exported_names = {line.split()[-1].split("=", 1)[0] for line in exported_part.splitlines()
                          if line.startswith("export ")}
        everything = _posix_set(all_part)
        exported = {k: v for k, v in everything.items() if k in exported_names}
        plain = {k: v for k, v in everything.items() if k not in exported_names and k not in _SHELL_OWN
                 and not k.startswith(("__shipline", "__SHIPLINE"))}
    shell.cwd = Path(cwd)
    shell.exported = {k: v for k, v in exported.items() if k != _STATE}
    shell.plain = plain


def _posix_set(text: str) -> dict[str, str]:
    """`set` output of a POSIX shell: NAME='value' entries, values quoted for re-input."""
    found: dict[str, str] = {}
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        return found
    for word in words:
        name, sep, value = word.partition("=")
        if sep and name.isidentifier():
            found[name] = value
    return found


def base_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The build container's own environment: a plain PATH, a HOME, a locale."""
    return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8", **extra}
