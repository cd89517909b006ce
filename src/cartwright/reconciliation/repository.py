from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Row, placeholders

RUN_COLUMNS = (
    "id, provider, status, format, file_sha256, period_start, period_end, lines, matched,"
    " discrepancies, created_by, created_at"
)
DISCREPANCY_COLUMNS = (
    "id, provider, key, kind, status, line_id, our_reference, provider_reference, currency,"
    " expected, actual, detail, first_run_id, resolution, note, resolved_by, resolved_at,"
    " created_at, updated_at"
)
LINE_COLUMNS = (
    "provider, line_id, kind, our_reference, provider_payment, currency, gross, fee, net,"
    " occurred_at, subject_id, first_run_id, posted_at, created_at"
)


async def insert_run(
    conn: Conn,
    *,
    run_id: str,
    provider: str,
    status: str,
    report_format: str,
    file_sha256: str,
    period_start: datetime | None,
    period_end: datetime | None,
    lines: int,
    matched: int,
    discrepancies: str,
    created_by: str | None,
    now: datetime,
) -> None:
    await conn.execute(
        f"INSERT INTO reconciliation_runs ({RUN_COLUMNS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        run_id,
        provider,
        status,
        report_format,
        file_sha256,
        period_start,
        period_end,
        lines,
        matched,
        discrepancies,
        created_by,
        now,
    )


async def get_run(conn: Conn, run_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {RUN_COLUMNS} FROM reconciliation_runs WHERE id = $1", run_id
    )


async def insert_line(
    conn: Conn,
    *,
    provider: str,
    line_id: str,
    kind: str,
    our_reference: str | None,
    provider_payment: str | None,
    currency: str,
    gross: int,
    fee: int,
    net: int,
    occurred_at: datetime,
    subject_id: str | None,
    run_id: str,
    now: datetime,
) -> bool:
    """Keep a provider line the first time it is seen; False when it was known."""
    inserted = await conn.execute(
        f"INSERT INTO reconciliation_lines ({LINE_COLUMNS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13)"
        " ON CONFLICT DO NOTHING",
        provider,
        line_id,
        kind,
        our_reference,
        provider_payment,
        currency,
        gross,
        fee,
        net,
        occurred_at,
        subject_id,
        run_id,
        now,
    )
    return inserted == 1


async def set_line_subject(conn: Conn, provider: str, line_id: str, subject_id: str) -> None:
    """A line known before without a match of ours (missing on our side then) found one."""
    await conn.execute(
        "UPDATE reconciliation_lines SET subject_id = $3"
        " WHERE provider = $1 AND line_id = $2 AND subject_id IS NULL",
        provider,
        line_id,
        subject_id,
    )


async def lines_for_subjects(conn: Conn, provider: str, subject_ids: Sequence[str]) -> list[Row]:
    """The known lines of `provider` matched to any of `subject_ids`."""
    found: list[Row] = []
    chunk = 500
    for start in range(0, len(subject_ids), chunk):
        part = subject_ids[start : start + chunk]
        found += await conn.fetch(
            "SELECT line_id, subject_id FROM reconciliation_lines"
            f" WHERE provider = $1 AND subject_id IN ({placeholders(2, len(part))})",
            provider,
            *part,
        )
    return found


async def mark_posted(conn: Conn, provider: str, line_id: str, now: datetime) -> bool:
    """Claim the line's ledger posting; False when it was posted before."""
    return (
        await conn.execute(
            "UPDATE reconciliation_lines SET posted_at = $3"
            " WHERE provider = $1 AND line_id = $2 AND posted_at IS NULL",
            provider,
            line_id,
            now,
        )
        == 1
    )


async def get_line(conn: Conn, provider: str, line_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {LINE_COLUMNS} FROM reconciliation_lines WHERE provider = $1 AND line_id = $2",
        provider,
        line_id,
    )


async def insert_discrepancy(
    conn: Conn,
    *,
    discrepancy_id: str,
    provider: str,
    key: str,
    kind: str,
    line_id: str | None,
    our_reference: str | None,
    provider_reference: str | None,
    currency: str | None,
    expected: str | None,
    actual: str | None,
    detail: str,
    run_id: str,
    now: datetime,
) -> None:
    """Raise a discrepancy unless the same problem (provider, key) is already raised."""
    await conn.execute(
        "INSERT INTO reconciliation_discrepancies (id, provider, key, kind, status, line_id,"
        " our_reference, provider_reference, currency, expected, actual, detail, first_run_id,"
        " created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)"
        " ON CONFLICT DO NOTHING",
        discrepancy_id,
        provider,
        key,
        kind,
        line_id,
        our_reference,
        provider_reference,
        currency,
        expected,
        actual,
        detail,
        run_id,
        now,
    )


async def discrepancy_by_key(conn: Conn, provider: str, key: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {DISCREPANCY_COLUMNS} FROM reconciliation_discrepancies"
        " WHERE provider = $1 AND key = $2",
        provider,
        key,
    )


async def insert_finding(conn: Conn, run_id: str, discrepancy_id: str) -> None:
    await conn.execute(
        "INSERT INTO reconciliation_findings (run_id, discrepancy_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        run_id,
        discrepancy_id,
    )


async def get_discrepancy(conn: Conn, discrepancy_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {DISCREPANCY_COLUMNS} FROM reconciliation_discrepancies WHERE id = $1",
        discrepancy_id,
    )


async def discrepancies_of_run(
    conn: Conn, run_id: str, *, kind: str | None, limit: int, starting_after: str | None
) -> list[Row]:
    columns = ", ".join(f"d.{c.strip()}" for c in DISCREPANCY_COLUMNS.split(","))
    sql = (
        f"SELECT {columns} FROM reconciliation_findings f"
        " JOIN reconciliation_discrepancies d ON d.id = f.discrepancy_id WHERE f.run_id = $1"
    )
    args: list[object] = [run_id]
    if kind is not None:
        args.append(kind)
        sql += f" AND d.kind = ${len(args)}"
    if starting_after is not None:
        args.append(starting_after)
        sql += f" AND d.id > ${len(args)}"
    args.append(limit)
    sql += f" ORDER BY d.id LIMIT ${len(args)}"
    return await conn.fetch(sql, *args)


async def resolve(
    conn: Conn,
    discrepancy_id: str,
    *,
    resolution: str,
    note: str | None,
    resolved_by: str | None,
    now: datetime,
) -> Row | None:
    """open → resolved; None when it is not open (resolved before)."""
    return await conn.fetchrow(
        "UPDATE reconciliation_discrepancies SET status = 'resolved', resolution = $2,"
        " note = $3, resolved_by = $4, resolved_at = $5, updated_at = $5"
        f" WHERE id = $1 AND status = 'open' RETURNING {DISCREPANCY_COLUMNS}",
        discrepancy_id,
        resolution,
        note,
        resolved_by,
        now,
    )
