"""The providers' settings: connectors registered when their keys are set, secrets never
shown."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from cartwright.kit.settings import Settings
from cartwright.payments.connector import InvalidWebhook
from cartwright.platform import ConfigurationError, Platform

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


def test_a_second_sandbox_server_is_the_provider_sandbox_failover_with_its_own_secret() -> None:
    platform = Platform.build(
        settings(
            sandbox_url="http://127.0.0.1:8100",
            sandbox_webhook_secret="whsec_first",
            sandbox_failover_url="http://127.0.0.1:8101",
            sandbox_failover_webhook_secret="whsec_second",
            payment_routes='[{"providers": ["sandbox_failover", "sandbox"]}]',
        )
    )
    gateway = platform.gateway
    assert gateway.route(currency="EUR", amount=100) == "sandbox_failover"
    failover = gateway.connector("sandbox_failover")
    # Its name is the one its payments, metrics and webhook route are recorded under.
    assert (failover.name, gateway.connector("sandbox").name) == ("sandbox_failover", "sandbox")
    body = b'{"id": "evt_1", "type": "account.updated", "created": 0, "data": {"object": {}}}'
    now = datetime.now(UTC)
    t = int(now.timestamp())
    for secret, accepted in (("whsec_second", True), ("whsec_first", False)):
        v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {"Sandbox-Signature": f"t={t},v1={v1}"}
        if accepted:
            failover.parse_webhook(headers, body, now=now)
        else:
            with pytest.raises(InvalidWebhook):
                failover.parse_webhook(headers, body, now=now)


def test_a_malformed_failover_url_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError, match="CARTWRIGHT_SANDBOX_FAILOVER_URL"):
        Platform.build(settings(sandbox_failover_url="127.0.0.1:8101"))
