"""Connector for Adyen's Checkout API (payments, modifications, standard webhooks)."""
