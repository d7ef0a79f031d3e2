"""Notifications: the outbox in the documents store and the channels that deliver it."""
