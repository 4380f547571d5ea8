#!/usr/bin/env python3
"""Stand-in for `docker` (and, as `aws`, for the AWS CLI) in the local account's CodeBuild.

It forwards its arguments, working directory, environment and standard input to the local
account's tool server ($SHIPLINE_LOCAL_TOOLS), which does what the real tool would do
against the emulated account, and prints what it answers. Standard library only, so it
starts fast in every build command.
"""
import json
import os
import sys
import urllib.request


def main() -> int:
    tool = os.path.basename(sys.argv[0])
    url = os.environ.get("SHIPLINE_LOCAL_TOOLS")
    if not url:
        print(f"{tool}: the local account's stand-in runs only inside its CodeBuild builds", file=sys.stderr)
        return 127
    stdin = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    request = json.dumps({"tool": tool, "argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ),
                          "stdin": stdin.decode("utf-8", "replace")}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=request, method="POST"), timeout=900) as response:
        answer = json.load(response)
    sys.stdout.write(answer["stdout"])
    sys.stderr.write(answer["stderr"])
    return int(answer["code"])


if __name__ == "__main__":
    sys.exit(main())
