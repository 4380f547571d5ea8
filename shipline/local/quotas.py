"""CodeBuild's build quota as the local account models it (no import of moto here: the CLI
reads these for its help text)."""

# CodeBuild's concurrent-build quota varies by compute type and account; its "Quotas" page
# gives 20 for some, "as low as 5 for a new account", and 1 for some ARM environments. The
# local account takes the new-account figure unless told otherwise (--codebuild-quota).
DEFAULT_QUOTA = 5
QUEUE_FACTOR = 5  # builds over the quota wait in a queue five times its size ("Run builds")
