"""Template parameters of the stacks tests run. The default stack is SourceProvider=CodeCommit:
the GitHub webhook (and its secret) exist only in a GitHub stack."""

GITHUB = {"SourceProvider": "GitHub",
          "GitHubRepositoryUrl": "https://github.com/example-org/multi-agent-orchestrator.git"}


def overrides(parameters: dict[str, str]) -> list[str]:
    """The parameters as `--parameter-overrides KEY=VALUE ...` takes them."""
    return ["--parameter-overrides", *(f"{key}={value}" for key, value in parameters.items())]
