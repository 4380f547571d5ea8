"""`aws ecr get-login-password` against the emulated account, as the AWS CLI v2 answers it.

Only what the buildspec needs is emulated; any other command is refused with the AWS CLI's
own usage error, so a buildspec that calls something new fails here as loudly as it would
if that call were wrong.
"""

from __future__ import annotations

from shipline.local.standins.cli import Answer, Call, Options
from shipline.local.standins.docker import Registry

_USAGE = ("usage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\n"
          "To see help text, you can run:\n\n  aws help\n  aws <command> help\n  aws <command> <subcommand> help\n")


class AwsCli:
    def __init__(self, registry: Registry):
        self.registry = registry

    def __call__(self, call: Call) -> Answer:
        options = Options(call.argv, values={"--region": "region", "--profile": "profile", "--output": "output",
                                             "--endpoint-url": "endpoint-url"},
                          flags={"--version": "version", "--no-cli-pager": "no-pager", "--debug": "debug"})
        if "version" in options.flags:
            return Answer().out("aws-cli/2.17.0 Python/3.11 Linux (shipline local stand-in)")
        if options.error:
            return Answer().fail(f"{_USAGE}\naws: error: {options.error}", 252)
        command = tuple(options.positional)
        if command != ("ecr", "get-login-password"):
            what = " ".join(command) or "(none)"
            return Answer().fail(f"{_USAGE}\naws: error: the local account's stand-in runs only "
                                 f"'ecr get-login-password', not '{what}'", 252)
        region = options.one("region") or call.env.get("AWS_REGION") or call.env.get("AWS_DEFAULT_REGION")
        if not region:
            return Answer().fail('You must specify a region. You can also configure your region by running '
                                 '"aws configure".', 253)
        if region not in self.registry.host:
            return Answer().fail(f"Could not connect to the endpoint URL: \"https://api.ecr.{region}.amazonaws.com/\"",
                                 255)
        return Answer().out(self.registry.password())
