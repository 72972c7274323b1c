"""The LINE connector: webhook in (verify, parse, store), Messaging API out.

- `parsing`: signature check and webhook body → `bot.events`
- `webhook`: the FastAPI route `POST /line/webhook`
- `client`: the one outbound seam (line-bot-sdk v3 async client)
- `messages`: LINE message objects within LINE's limits
- `sender`: the outbox-backed delivery (reply token first, push with retry key)
"""
