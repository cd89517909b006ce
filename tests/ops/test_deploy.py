"""The shipped monitoring files: rules valid and unit-tested with promtool (Debian's
`prometheus` package), alerts linked to runbooks that exist, every metric an alert, a
recording rule or a dashboard panel reads is one the platform exports, and the compose
stack's files hang together (no container engine here to start it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from cartwright.kit import metrics

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
RULES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
RUNBOOK_URL = re.compile(r"^https://docs\.cartwright\.dev/runbooks/([a-z0-9-]+)\.md$")
RAW_NAME = re.compile(r"\bcartwright_[a-z0-9_]+\b")
RECORDED_NAME = re.compile(r"\bcartwright:[a-z0-9_:]+\b")


def promtool() -> str:
    found = shutil.which("promtool") or (
        "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
    )
    assert found, "promtool is missing: apt-get install prometheus (bin/test does)"
    return found


def _run(*args: str) -> str:
    result = subprocess.run(
        [promtool(), *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rules_and_config_pass_promtool_check() -> None:
    out = _run("check", "rules", *(str(p) for p in RULES))
    assert out.count("SUCCESS") == len(RULES), out
    _run("check", "config", "prometheus.yml")


def test_alerts_behave_as_their_unit_tests_say() -> None:
    tests = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))
    assert tests
    assert "SUCCESS" in _run("test", "rules", *(str(t) for t in tests))


def _rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def test_every_alert_has_a_severity_and_a_runbook_that_exists() -> None:
    alerts = [r for r in _rules() if "alert" in r]
    assert len(alerts) >= 10
    for alert in alerts:
        assert alert["labels"]["severity"] in ("page", "ticket"), alert["alert"]
        match = RUNBOOK_URL.match(alert["annotations"]["runbook_url"])
        assert match, alert["alert"]
        runbook = ROOT / "docs" / "runbooks" / f"{match.group(1)}.md"
        assert runbook.is_file(), (alert["alert"], runbook)
        assert alert["annotations"]["summary"], alert["alert"]


def test_the_slos_of_the_issue_each_have_burn_rate_alerts() -> None:
    names = {r["alert"] for r in _rules() if "alert" in r}
    for slo in ("CheckoutAvailability", "CheckoutLatency", "OrderCreation", "PaymentAuthorization"):
        assert {f"{slo}BudgetBurn", f"{slo}BudgetBurnSlow"} <= names, slo
    assert "PaymentsUnknownPastRecovery" in names


def exported_names() -> set[str]:
    """Every series name the platform's metrics produce (API processes and worker alike:
    both record through `kit.metrics`)."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        name, kind = value._name, value._type
        if kind == "counter":
            names |= {f"{name}_total", f"{name}_created"}
        elif kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        else:
            names.add(name)
    return names


def _dashboard_exprs() -> list[str]:
    exprs = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            exprs.extend(t["expr"] for t in panel.get("targets", ()))
    return exprs


def test_every_metric_used_is_one_the_platform_exports() -> None:
    exported = exported_names()
    assert "cartwright_checkouts_total" in exported
    assert "cartwright_checkout_duration_seconds_bucket" in exported
    rules = _rules()
    recorded = {r["record"] for r in rules if "record" in r}
    exprs = [r["expr"] for r in rules] + _dashboard_exprs()
    assert len(_dashboard_exprs()) >= 20
    for expr in exprs:
        raw = set(RAW_NAME.findall(expr))
        used_recorded = set(RECORDED_NAME.findall(expr))
        assert raw or used_recorded or re.search(r"\bup\b", expr), expr
        assert raw <= exported, (expr, raw - exported)
        assert used_recorded <= recorded, (expr, used_recorded - recorded)


def test_the_dashboard_covers_the_platform() -> None:
    (dashboard,) = [json.loads(p.read_text()) for p in DASHBOARDS]
    rows = {p["title"] for p in dashboard["panels"] if p["type"] == "row"}
    for row in ("Checkout", "Payments by provider", "Orders", "Database", "Worker"):
        assert row in rows, rows
    assert any("Stock" in r for r in rows)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            assert target["datasource"]["uid"] == "prometheus"


def test_the_compose_stack_hangs_together() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"prometheus", "grafana", "otel-collector", "jaeger"} <= set(services)
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), (name, image)
        for mount in service.get("volumes", ()):
            host = mount.split(":", 1)[0]
            assert (DEPLOY / host).exists(), (name, mount)
        for port in service.get("ports", ()):
            assert re.fullmatch(r"\d+:\d+", port), (name, port)
        for dependency in service.get("depends_on", ()):
            assert dependency in services, (name, dependency)
    # Prometheus reads the rule files the config names, where compose mounts them.
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    for rule_file in config["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).is_file(), rule_file
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in services["prometheus"]["volumes"]
    # Grafana's datasource is the compose Prometheus, under the uid the panels name.
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"][0]
    assert datasource["uid"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/cartwright.yaml").read_text()
    )["providers"][0]
    assert (
        "./grafana/dashboards:" + provider["options"]["path"] + ":ro"
        in (services["grafana"]["volumes"])
    )
    # The collector's pipeline uses only receivers and exporters it defines.
    collector = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    pipeline = collector["service"]["pipelines"]["traces"]
    assert set(pipeline["receivers"]) <= set(collector["receivers"])
    assert set(pipeline["exporters"]) <= set(collector["exporters"])
    assert "http" in collector["receivers"]["otlp"]["protocols"]
    assert collector["exporters"]["otlp/jaeger"]["endpoint"].split(":")[0] in services


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_rule_files_are_plain_yaml(path: Path) -> None:
    assert isinstance(yaml.safe_load(path.read_text())["groups"], list)
