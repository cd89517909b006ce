"""Routing rules: the first rule matching a payment's currency, channel and amount names
its providers in order; nothing matched (or no rules) means every enabled provider in
registration order; a rule that is malformed or names a provider not enabled stops the
start with its number and the name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from cartwright.kit.settings import Settings
from cartwright.payments.routing import InvalidRoutes, parse_routes
from cartwright.platform import ConfigurationError, Platform, enabled_providers

ENABLED = ["stripe", "adyen", "sandbox"]
RULES = [
    {"currency": "EUR", "max_amount": 100_000, "providers": ["adyen", "stripe"]},
    {"currency": "EUR", "min_amount": 100_000, "providers": ["stripe"]},
    {"channel": "pos", "providers": ["adyen"]},
    {"currency": "USD", "channel": "web", "providers": ["stripe", "sandbox"]},
]


def _route(currency: str, amount: int, channel: str = "default") -> tuple[str, ...]:
    routes = parse_routes(json.dumps(RULES), ENABLED)
    return routes.providers_for(currency=currency, amount=amount, channel=channel)


def test_no_rules_route_to_every_enabled_provider_in_registration_order() -> None:
    for text in ("", "  ", "[]"):
        routes = parse_routes(text, ENABLED)
        assert routes.providers_for(currency="JPY", amount=1, channel="default") == tuple(ENABLED)


def test_the_first_matching_rule_wins() -> None:
    assert _route("EUR", 0) == ("adyen", "stripe")
    assert _route("EUR", 99_999) == ("adyen", "stripe")
    # The upper bound is excluded, the lower one included: no amount matches two ranges.
    assert _route("EUR", 100_000) == ("stripe",)
    # An earlier rule wins over a channel rule that also matches.
    assert _route("EUR", 5, channel="pos") == ("adyen", "stripe")
    assert _route("GBP", 5, channel="pos") == ("adyen",)
    assert _route("USD", 5, channel="web") == ("stripe", "sandbox")


def test_a_payment_no_rule_matches_goes_by_registration_order() -> None:
    assert _route("USD", 5) == tuple(ENABLED)  # the USD rule is for the web channel only
    assert _route("GBP", 5) == tuple(ENABLED)


def test_a_rule_naming_a_provider_not_enabled_is_refused_with_its_name() -> None:
    text = json.dumps([RULES[0], {"currency": "USD", "providers": ["stripe", "paypal"]}])
    with pytest.raises(InvalidRoutes, match=r"rule 2 names the provider 'paypal'.*stripe"):
        parse_routes(text, ENABLED)


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ({"currency": "eur", "providers": ["stripe"]}, "rule 1, currency"),
        ({"providers": []}, "rule 1, providers"),
        ({"currency": "EUR"}, "rule 1, providers: Field required"),
        ({"min_amount": "100", "providers": ["stripe"]}, "rule 1, min_amount"),
        ({"min_amount": -1, "providers": ["stripe"]}, "rule 1, min_amount"),
        ({"min_amount": 10, "max_amount": 10, "providers": ["stripe"]}, "max_amount must be"),
        ({"providers": ["stripe", "stripe"]}, "named twice"),
        ({"curency": "EUR", "providers": ["stripe"]}, "rule 1, curency: Extra inputs"),
    ],
)
def test_a_malformed_rule_is_refused_with_its_number(rule: dict[str, Any], why: str) -> None:
    with pytest.raises(InvalidRoutes, match=why):
        parse_routes(json.dumps([rule]), ENABLED)


@pytest.mark.parametrize("text", ["{", '{"providers": ["stripe"]}', "[1]"])
def test_what_is_not_a_list_of_rules_is_refused(text: str) -> None:
    with pytest.raises(InvalidRoutes):
        parse_routes(text, ENABLED)


def test_the_platform_refuses_to_start_on_routes_it_cannot_serve(tmp_path: Any) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cw.db",
        secret_key="k" * 40,
        payment_routes='[{"currency": "EUR", "providers": ["adyen"]}]',
    )
    with pytest.raises(ConfigurationError, match="CARTWRIGHT_PAYMENT_ROUTES: rule 1 .*'adyen'"):
        Platform.build(settings)


def test_serve_refuses_such_routes_before_starting_with_one_clear_line(tmp_path: Any) -> None:
    env = {
        **os.environ,
        "CARTWRIGHT_DATABASE_URL": f"sqlite:///{tmp_path}/cw.db",
        "CARTWRIGHT_PAYMENT_ROUTES": '[{"providers": ["sandbox", "stripe"]}]',
    }
    run = subprocess.run(
        [sys.executable, "-m", "cartwright.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert "CARTWRIGHT_PAYMENT_ROUTES: rule 1 names the provider 'stripe'" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_the_providers_routes_may_name_are_the_ones_registered(tmp_path: Any) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cw.db",
        secret_key="k" * 40,
        sandbox_failover_url="http://127.0.0.1:9",
    )
    assert enabled_providers(settings) == ["sandbox", "sandbox_failover"]
    gateway = Platform.build(settings).gateway  # which asserts it registered just those
    assert all(gateway.has(name) for name in enabled_providers(settings))
    assert not gateway.has("stripe") and not gateway.has("adyen")


def test_a_breaker_threshold_above_its_window_is_a_configuration_problem() -> None:
    settings = Settings(psp_breaker_threshold=30, psp_breaker_window=20)
    assert any("CARTWRIGHT_PSP_BREAKER_THRESHOLD" in p for p in settings.configuration_problems())
