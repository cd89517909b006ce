"""Connector for Stripe (PaymentIntents, Refunds, webhook events), over its REST API."""
