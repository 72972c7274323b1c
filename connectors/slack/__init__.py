"""The Slack side of a handoff: the card and thread staff work in, and what they send back.

`client.py` is the one seam to the Slack Web API; `card.py` lays a handoff
out in Block Kit; `desk.py` is the `bot.handoff.StaffDesk` over them;
`events.py` receives Slack's events and button clicks through slack-bolt
(HTTP at /slack/events, or Socket Mode).
"""
