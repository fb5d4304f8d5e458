"""Notifications and the e-mail outbox, against a local SMTP sink."""
