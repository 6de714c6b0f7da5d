"""Adaptive Cards (schema 1.5, Universal Actions) the bot sends, and parsing their actions."""
