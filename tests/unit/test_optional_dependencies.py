"""A provider whose package is an optional extra says how to install it, in one line."""

from __future__ import annotations

import sys

import pytest

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings import Settings
from secureflaskauth.wiring import sms_provider


def test_sns_without_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "secureflaskauth.adapters.sms.sns", raising=False)
    settings = Settings(sms_backend="sns", sns_region="eu-west-1")
    with pytest.raises(ConfigurationError) as refused:
        sms_provider("sns", settings.sms)
    assert str(refused.value) == (
        "SFA_SMS_BACKEND=sns needs the boto3 package: pip install 'secureflaskauth[sns]'"
    )
