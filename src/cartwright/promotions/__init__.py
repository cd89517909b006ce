"""Promotions: automatic and code promotions, their limits, and the engine that prices them."""
