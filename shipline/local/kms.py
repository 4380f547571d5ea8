"""KMS: moto makes an RSA-2048 private key for every key it creates, symmetric ones included
(0.05 to 0.25 s each). A symmetric or HMAC key never uses it (AWS refuses Sign, Verify and
GetPublicKey on them), so while an emulation is installed such a key gets its private key only
if something asks for it: the same behaviour as moto's, without the cost at CreateKey."""

from __future__ import annotations

from typing import Any

import moto.kms.models as kms_models
from moto.kms import utils as kms_utils

from shipline.local.patches import Patches

_ASYMMETRIC = ("RSA_", "ECC_", "SM2")


class _OnFirstUse:
    """The private key moto would have made, made the first time one of its attributes is read."""

    def __init__(self, key_spec: str) -> None:
        self._key_spec = key_spec
        self._key: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._key is None:
            self._key = kms_utils.generate_private_key(self._key_spec)
        return getattr(self._key, name)


def _private_key(key_spec: str) -> Any:
    if key_spec.startswith(_ASYMMETRIC):
        return kms_utils.generate_private_key(key_spec)
    return _OnFirstUse(key_spec)


def install(patches: Patches) -> None:
    patches.set(kms_models, "generate_private_key", _private_key)
