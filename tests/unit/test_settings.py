"""Each function's settings: what it cannot run without is checked on its first invocation,
and a missing variable is one line naming it."""

import pytest

from pipeline.settings import (
    BuildTriggerSettings,
    ConfigurationError,
    ImageEventsSettings,
    function_environment,
    get_settings,
)

TRIGGER = {"BUILD_STARTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/starts",
           "IDEMPOTENCY_TABLE": "i", "CODECOMMIT_REPOSITORY": "repo", "ACCOUNT_ID": "123456789012"}


def test_a_functions_settings_read_its_own_environment():
    with function_environment(TRIGGER):
        settings = get_settings(BuildTriggerSettings)
    assert (settings.build_starts_queue_url, settings.idempotency_table, settings.repository) == (
        TRIGGER["BUILD_STARTS_QUEUE_URL"], "i", "repo")


@pytest.mark.parametrize("missing", ["BUILD_STARTS_QUEUE_URL", "IDEMPOTENCY_TABLE"])
def test_a_missing_variable_is_one_line_naming_it(missing):
    environment = {k: v for k, v in TRIGGER.items() if k != missing}
    with function_environment(environment), pytest.raises(ConfigurationError) as raised:
        get_settings(BuildTriggerSettings)
    assert str(raised.value) == (f"environment variable {missing} is required by this function and not set "
                                 "(template.yaml gives each function its own)")


def test_a_blank_variable_is_a_missing_one():
    with function_environment({**TRIGGER, "IDEMPOTENCY_TABLE": ""}), \
            pytest.raises(ConfigurationError, match="IDEMPOTENCY_TABLE"):
        get_settings(BuildTriggerSettings)


def test_codecommit_needs_its_repository_and_github_does_not():
    without = {k: v for k, v in TRIGGER.items() if k != "CODECOMMIT_REPOSITORY"}
    with function_environment(without), pytest.raises(ConfigurationError, match="CODECOMMIT_REPOSITORY is required"):
        get_settings(BuildTriggerSettings)
    with function_environment({**without, "SOURCE_PROVIDER": "GitHub"}):
        assert get_settings(BuildTriggerSettings).source_provider == "GitHub"


def test_each_function_checks_what_it_needs_not_what_another_needs():
    with function_environment({**TRIGGER, "LEDGER_TABLE": "l"}), \
            pytest.raises(ConfigurationError, match="NOTIFICATION_TOPIC_ARN"):
        get_settings(ImageEventsSettings)


def test_a_project_name_other_than_the_manifests_is_one_line_naming_both():
    """The rules match the stack's ProjectName, the webhook and `shipline trigger` the manifest's:
    a function of a stack whose two differ refuses to run, so the error alarm fires."""
    with function_environment({**TRIGGER, "PROJECT_NAME": "billing"}), pytest.raises(ConfigurationError) as raised:
        get_settings(BuildTriggerSettings)
    message = str(raised.value)
    assert "\n" not in message
    assert "[project].name is 'multi-agent-orchestrator'" in message and "PROJECT_NAME) is 'billing'" in message
    assert "deploy with ProjectName=multi-agent-orchestrator" in message


def test_the_project_name_is_checked_again_on_every_invocation_until_it_is_fixed():
    for _ in range(2):
        with function_environment({**TRIGGER, "PROJECT_NAME": "billing"}), pytest.raises(ConfigurationError):
            get_settings(BuildTriggerSettings)
    with function_environment(TRIGGER):
        assert get_settings(BuildTriggerSettings).project == "multi-agent-orchestrator"
