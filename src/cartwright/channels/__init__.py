"""Channels (web shop, app, store, partner) and the price lists they sell at (ADR 0021)."""

from cartwright.channels.service import DEFAULT_CHANNEL, Channel, lookup

__all__ = ["DEFAULT_CHANNEL", "Channel", "lookup"]
