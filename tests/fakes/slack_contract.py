"""Slack's official API descriptions as validators (../shared/contracts/slack/).

- Web API (`slack_web_openapi_v2.json`, Swagger 2.0): every request tomo sends
  is checked against its method's parameters — the token header, required
  parameters, unknown parameters, and types. The spec describes form
  encoding, where `blocks` and `attachments` are "a JSON-based array …
  presented as a URL-encoded string"; slack_sdk sends JSON, where they are the
  array itself: both are accepted, the string must parse to an array. Every
  answer the fake gives is checked against the method's 200 schema.
- Block Kit limits Slack documents in prose (not in the spec): at most 50
  blocks, header text 150, section text 3,000, ten fields of 2,000, button
  text 75, value 2,000, unique action ids.
- Events API (`slack_events_api_async_v1.json` and the common event wrapper
  schema): every event body sent to tomo is checked against the envelope.
  Interactivity payloads (block_actions) are not in these specs; their shape
  is checked here by hand.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

CONTRACTS = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "slack"
WEB_API = CONTRACTS / "slack_web_openapi_v2.json"
EVENTS_API = CONTRACTS / "slack_events_api_async_v1.json"
EVENT_WRAPPER = CONTRACTS / "slack_common_event_wrapper_schema.json"

JSON_ARRAY_STRINGS = {"blocks", "attachments"}
# Slack takes team_id on every method (org-wide tokens; newer than the 2020 spec), and
# Bolt's per-request client adds it to every call: accepted wherever it appears.
EVERY_METHOD = {"team_id": {"name": "team_id", "type": "string"}}
BLOCK_TYPES = {"header", "section", "context", "actions", "divider", "image", "input", "rich_text"}


@cache
def web_api() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(WEB_API.read_text(encoding="utf-8"))
    return loaded


@cache
def _registry() -> Registry[Any]:
    return Registry().with_resource(
        "urn:slack-web", Resource.from_contents(web_api(), default_specification=DRAFT4)
    )


def _operation(method: str) -> dict[str, Any] | None:
    path = web_api()["paths"].get(f"/{method}")
    if path is None:
        return None
    operation: dict[str, Any] = path.get("post") or path.get("get")
    return operation


def request_problems(
    method: str, arguments: dict[str, Any], *, authorization: str | None, token: str
) -> list[str]:
    """Everything wrong with one Web API request (empty when it is valid)."""
    operation = _operation(method)
    if operation is None:
        return [f"{method}: not a Slack Web API method in the contract"]
    problems: list[str] = []
    parameters = {**EVERY_METHOD, **{p["name"]: p for p in operation.get("parameters", [])}}
    token_parameter = parameters.pop("token", None)
    in_header = token_parameter is not None and token_parameter.get("in") == "header"
    if in_header and authorization != f"Bearer {token}":
        problems.append(f"{method}: missing or wrong bearer token")
    for name, parameter in parameters.items():
        if parameter.get("required") and name not in arguments:
            problems.append(f"{method}: required parameter {name!r} missing")
    for name, value in arguments.items():
        parameter = parameters.get(name)
        if parameter is None:
            problems.append(f"{method}: unknown parameter {name!r}")
            continue
        problem = _type_problem(name, parameter.get("type", "string"), value)
        if problem:
            problems.append(f"{method}: {problem}")
    if "blocks" in arguments:
        blocks = arguments["blocks"]
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        problems += [f"{method}: {p}" for p in block_kit_problems(blocks)]
    return problems


def _type_problem(name: str, kind: str, value: Any) -> str | None:
    if kind == "string":
        if name in JSON_ARRAY_STRINGS:
            if isinstance(value, list):
                return None
            try:
                parsed = json.loads(value) if isinstance(value, str) else None
            except json.JSONDecodeError:
                parsed = None
            return None if isinstance(parsed, list) else f"{name} must be a JSON array"
        return None if isinstance(value, str) else f"{name} must be a string, not {value!r}"
    if kind == "boolean":
        ok = isinstance(value, bool) or value in ("true", "false", "1", "0")
        return None if ok else f"{name} must be a boolean, not {value!r}"
    if kind == "integer":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.isdigit()
        )
        return None if ok else f"{name} must be an integer, not {value!r}"
    if kind == "number":
        return None if isinstance(value, (int, float, str)) else f"{name} must be a number"
    return None


def block_kit_problems(blocks: Any) -> list[str]:
    """Block Kit's documented limits (the parts tomo uses)."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems: list[str] = []
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks (at most 50)")
    action_ids: list[str] = []
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            problems.append(f"{where}: unknown block type {kind!r}")
            continue
        if kind == "header":
            text = block.get("text", {})
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                problems.append(f"{where}: header needs plain_text of 1–150 characters")
        if kind == "section":
            text = block.get("text")
            fields = block.get("fields")
            if text is None and not fields:
                problems.append(f"{where}: a section needs text or fields")
            if text is not None and not 0 < len(text.get("text", "")) <= 3000:
                problems.append(f"{where}: section text must be 1–3000 characters")
            for field in fields or []:
                if not 0 < len(field.get("text", "")) <= 2000:
                    problems.append(f"{where}: a field must be 1–2000 characters")
            if fields is not None and len(fields) > 10:
                problems.append(f"{where}: at most 10 fields")
            accessory = block.get("accessory")
            if accessory is not None:
                problems += _element_problems(accessory, f"{where}.accessory", action_ids)
        if kind == "context":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 10:
                problems.append(f"{where}: a context needs 1–10 elements")
            for element in elements:
                if not 0 < len(element.get("text", "")) <= 3000:
                    problems.append(f"{where}: context text must be 1–3000 characters")
        if kind == "actions":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 25:
                problems.append(f"{where}: actions need 1–25 elements")
            for position, element in enumerate(elements):
                problems += _element_problems(element, f"{where}[{position}]", action_ids)
    duplicated = {action for action in action_ids if action_ids.count(action) > 1}
    if duplicated:
        problems.append(f"action ids used twice: {sorted(duplicated)}")
    return problems


def _element_problems(element: dict[str, Any], where: str, action_ids: list[str]) -> list[str]:
    problems: list[str] = []
    if element.get("type") != "button":
        return problems
    text = element.get("text", {})
    if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 75:
        problems.append(f"{where}: button text must be plain_text of 1–75 characters")
    action_id = element.get("action_id", "")
    if not 0 < len(action_id) <= 255:
        problems.append(f"{where}: action_id must be 1–255 characters")
    action_ids.append(action_id)
    if len(element.get("value", "")) > 2000:
        problems.append(f"{where}: value longer than 2000 characters")
    if element.get("style") not in (None, "primary", "danger"):
        problems.append(f"{where}: style must be primary or danger")
    return problems


def response_problems(method: str, body: dict[str, Any]) -> list[str]:
    """Whether the fake's answer matches the contract's success schema of the method."""
    operation = _operation(method)
    if operation is None:
        return [f"{method}: not in the contract"]
    pointer = f"urn:slack-web#/paths/~1{method}/{_verb(method)}/responses/200/schema"
    validator = Draft4Validator({"$ref": pointer}, registry=_registry())
    return [
        f"{method} answer{''.join(f'[{p!r}]' for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(body)
    ]


def _verb(method: str) -> str:
    path = web_api()["paths"][f"/{method}"]
    return "post" if "post" in path else "get"


@cache
def _event_validators() -> tuple[Draft7Validator, Draft7Validator]:
    events = json.loads(EVENTS_API.read_text(encoding="utf-8"))
    wrapper = json.loads(EVENT_WRAPPER.read_text(encoding="utf-8"))
    generic = events["components"]["schemas"]["GenericEventWrapper"]
    return Draft7Validator(generic), Draft7Validator(wrapper)


def event_problems(body: dict[str, Any]) -> list[str]:
    """An Events API body checked against the message.channels topic's envelope and the
    common wrapper schema."""
    topic = json.loads(EVENTS_API.read_text(encoding="utf-8"))["topics"]["message.channels"]
    assert topic["subscribe"]["payload"]["$ref"].endswith("GenericEventWrapper")
    problems: list[str] = []
    for validator in _event_validators():
        problems += [
            f"event{''.join(f'[{p!r}]' for p in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(body)
        ]
    return problems


def block_actions_problems(payload: dict[str, Any]) -> list[str]:
    """The documented shape of a block_actions payload (the fields tomo reads)."""
    problems: list[str] = []
    for name in ("type", "user", "api_app_id", "token", "container", "trigger_id", "team"):
        if name not in payload:
            problems.append(f"block_actions: {name} missing")
    if payload.get("type") != "block_actions":
        problems.append("block_actions: type must be block_actions")
    for action in payload.get("actions", []):
        for name in ("action_id", "block_id", "type", "action_ts"):
            if name not in action:
                problems.append(f"block_actions: action {name} missing")
    if not payload.get("actions"):
        problems.append("block_actions: no actions")
    return problems
