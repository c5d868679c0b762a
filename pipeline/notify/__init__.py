"""Notifications: Slack through slack-sdk, or the console when no Slack token is configured."""
