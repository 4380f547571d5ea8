"""The Lambda Function URL request that carries a GitHub webhook delivery."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class FunctionUrlRequest(BaseModel):
    """The parts of a Lambda Function URL request (payload 2.0) the webhook reads."""

    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)
    headers: dict[str, str] = {}
    body: str | None = None
    is_base64_encoded: Annotated[bool, Field(alias="isBase64Encoded")] = False
