"""Delivery: email (outbox), schedules, webhooks; see docs/delivery.md."""
