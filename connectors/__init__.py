"""The edges: terminal chat, CLI, LINE, Slack, admin; the composition root."""
