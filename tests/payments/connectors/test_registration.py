"""The providers' settings: connectors registered when their keys are set, secrets never
shown."""

from __future__ import annotations

import pytest

from cartwright.kit.settings import Settings
from cartwright.platform import Platform

SECRETS = {
    "stripe_api_key": "sk_test_51Hidden0Stripe0Key",
    "stripe_webhook_secret": "whsec_hidden_stripe_secret",
    "adyen_api_key": "AQE_hidden_adyen_key",
    "adyen_hmac_key": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
}


def settings(**fields: object) -> Settings:
    return Settings(database_url="sqlite:///:memory:", _env_file=None, **fields)  # type: ignore[call-arg, arg-type]


def test_no_keys_no_providers_but_the_sandbox() -> None:
    gateway = Platform.build(settings()).gateway
    assert gateway.route(currency="EUR", amount=100) == "sandbox"
    for name in ("stripe", "adyen"):
        with pytest.raises(KeyError):
            gateway.connector(name)


def test_stripe_and_adyen_are_registered_when_their_keys_are_set() -> None:
    platform = Platform.build(
        settings(sandbox_enabled=False, adyen_merchant_account="CartwrightECOM", **SECRETS)
    )
    assert platform.gateway.route(currency="EUR", amount=100) == "stripe"
    assert platform.gateway.connector("stripe").name == "stripe"
    assert platform.gateway.connector("adyen").name == "adyen"


def test_adyen_without_a_merchant_account_refuses_to_start() -> None:
    with pytest.raises(ValueError, match="CARTWRIGHT_ADYEN_MERCHANT_ACCOUNT"):
        Platform.build(settings(adyen_api_key="AQE_hidden_adyen_key"))


def test_secrets_are_never_shown() -> None:
    shown = settings(adyen_merchant_account="CartwrightECOM", **SECRETS)
    for text in (repr(shown), str(shown), str(shown.model_dump())):
        for secret in SECRETS.values():
            assert secret not in text


def test_a_malformed_adyen_hmac_key_refuses_to_start() -> None:
    with pytest.raises(ValueError, match="CARTWRIGHT_ADYEN_HMAC_KEY"):
        Platform.build(
            settings(
                adyen_api_key="AQE_hidden_adyen_key",
                adyen_merchant_account="CartwrightECOM",
                adyen_hmac_key="not-hex",
            )
        )
