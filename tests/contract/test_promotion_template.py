"""Promotion's template parameters: the CLI reads them from the stack's outputs, and
samconfig.toml requires approval for prod only."""

import shlex
import tomllib

import pytest

from shipline.local.model import TemplateModel
from tests.support.paths import ROOT


def _overrides(environment: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    text = config[environment]["deploy"]["parameters"].get("parameter_overrides", "")
    return dict(item.split("=", 1) for item in shlex.split(text))


@pytest.mark.parametrize("environment, approval", [("dev", "none"), ("staging", "none"), ("prod", "required")])
def test_samconfig_requires_approval_for_prod_only(environment, approval):
    model = TemplateModel(parameters=_overrides(environment))
    assert model.outputs()["PromotionApproval"] == approval


def test_by_default_promotions_need_no_approval_and_the_requester_cannot_approve():
    outputs = TemplateModel().outputs()
    assert (outputs["PromotionApproval"], outputs["PromotionSelfApproval"]) == ("none", "false")


def test_the_source_role_is_an_output_only_when_given():
    role = "arn:aws:iam::111122223333:role/shipline-promotion-source"
    assert "PromotionSourceRoleArn" not in TemplateModel().outputs()
    assert TemplateModel(parameters={"PromotionSourceRoleArn": role}).outputs()["PromotionSourceRoleArn"] == role


def test_a_source_role_that_is_not_a_role_arn_is_refused():
    from shipline.local.model import TemplateError

    with pytest.raises(TemplateError, match="PromotionSourceRoleArn"):
        TemplateModel(parameters={"PromotionSourceRoleArn": "arn:aws:iam::111122223333:user/alice"})
