"""Response shapes of the ledger (the trial balance's is fixed by the contract)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class CurrencyTotals(BaseModel):
    currency: str
    debits: int
    credits: int


class TrialBalance(BaseModel):
    data: list[CurrencyTotals]


class AccountBalance(BaseModel):
    account: str
    type: str
    party: str | None
    currency: str
    debits: int
    credits: int
    balance: int


class AccountBalances(BaseModel):
    data: list[AccountBalance]


class LedgerLine(BaseModel):
    account: str
    party: str | None
    debit: int
    credit: int


class LedgerEntry(BaseModel):
    id: str
    kind: str
    currency: str
    order_id: str | None
    payment_id: str | None
    source: str
    memo: str | None
    created_at: datetime
    lines: list[LedgerLine]


class LedgerEntryList(BaseModel):
    data: list[LedgerEntry]
    has_more: bool
