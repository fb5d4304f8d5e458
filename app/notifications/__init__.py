"""Notifications: in-app rows and the e-mail outbox (see services)."""
