"""Outgoing webhooks: endpoints, signed deliveries of domain events, retries (ADR 0020)."""
