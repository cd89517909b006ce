"""The delivery log keeps finished deliveries for `CARTWRIGHT_WEBHOOK_LOG_RETENTION_DAYS`;
the worker then deletes them with their attempts, and never one still being retried."""

from __future__ import annotations

from cartwright.kit.errors import NotFound
from cartwright.webhooks import service
from tests.fakes.clock import FakeClock
from tests.webhooks.support import Receiver, Rig

DAY_S = 86_400


async def test_finished_deliveries_go_after_the_retention_and_retried_ones_stay(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    good = await rig.endpoint(receiver.url, ["order.*"])
    receiver.plan = lambda _event, _n: "ok"
    await rig.emit(3)
    rig.sender()
    await rig.dispatch()
    await rig.flush()
    delivered = await rig.deliveries(good["id"])
    assert [d["status"] for d in delivered] == ["succeeded"] * 3

    fake_clock.advance(29 * DAY_S)
    receiver.plan = lambda _event, _n: "500"  # from now on every attempt fails
    await rig.emit(1)
    await rig.dispatch()
    await rig.flush()
    async with rig.db.transaction() as conn:
        assert await service.purge_delivery_log(conn, retention_days=30) == 0  # not yet

    fake_clock.advance(2 * DAY_S)
    async with rig.db.transaction() as conn:
        assert await service.purge_delivery_log(conn, retention_days=30) == 3
        assert await service.purge_delivery_log(conn, retention_days=30) == 0
    left = await rig.deliveries(good["id"])
    assert [d["status"] for d in left] == ["failed"]  # still being retried: kept
    for gone in delivered:
        try:
            await rig.delivery(gone["id"])
        except NotFound:
            continue
        raise AssertionError(f"delivery {gone['id']} outlived the retention")
    async with rig.db.connection() as conn:
        ids = [d["id"] for d in delivered]
        rows = await conn.fetch("SELECT delivery_id FROM webhook_attempts")
    assert not {r["delivery_id"] for r in rows} & set(ids)  # their attempts went too
