"""LINE's official OpenAPI descriptions as validators (../shared/contracts/line/).

Two things the generic OpenAPI tools do not do for LINE's files, done here:

- LINE puts `discriminator` on a base schema (Message, Action, Event, Source,
  MessageContent) whose subtypes extend it with `allOf`. Validating against
  the base alone checks almost nothing (a text message without `text`
  passes), so every object with a discriminator is also validated against the
  subtype its `type` names — and an unknown `type` is an error, except for
  webhook events, where LINE may add types at any time (the SDKs map them to
  an unknown event).
- Limits LINE documents in prose, not in the schema: text at most 5,000
  characters, a quick-reply label at most 20, loading seconds a multiple of 5.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

CONTRACTS = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "line"
MESSAGING_API = CONTRACTS / "messaging-api.yml"
WEBHOOK = CONTRACTS / "webhook.yml"
LINE_HOST = "https://api.line.me"


class SchemaSet:
    """The component schemas of one OpenAPI file, with discriminators followed."""

    def __init__(self, path: Path, *, open_discriminators: frozenset[str] = frozenset()) -> None:
        self.document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.schemas: dict[str, Any] = self.document["components"]["schemas"]
        self._open = open_discriminators
        self._registry: Registry[Any] = Registry().with_resource(
            "urn:contract", Resource.from_contents(self.document, default_specification=DRAFT4)
        )

    def problems(self, name: str, instance: Any) -> list[str]:
        """Everything wrong with `instance` as a `name` (empty when it is valid)."""
        found = self._validate(name, instance, name)
        found += self._descend({"$ref": f"#/components/schemas/{name}"}, instance, name, set())
        return found

    def _validate(self, name: str, instance: Any, where: str) -> list[str]:
        validator = OAS30Validator(
            {"$ref": f"urn:contract#/components/schemas/{name}"},
            registry=self._registry,
            format_checker=oas30_format_checker,
        )
        return [
            f"{where}{''.join(f'[{part!r}]' for part in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(instance)
        ]

    def _descend(
        self, schema: Any, instance: Any, where: str, seen: set[tuple[str, int]]
    ) -> list[str]:
        if not isinstance(schema, dict):
            return []
        found: list[str] = []
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            key = (name, id(instance))
            if key in seen:
                return []
            seen.add(key)
            return self._descend(self.schemas[name], instance, where, seen)
        if "discriminator" in schema and isinstance(instance, dict):
            found += self._subtype(schema, instance, where, seen)
        for part in schema.get("allOf", []):
            found += self._descend(part, instance, where, seen)
        if isinstance(instance, dict):
            for key, sub in schema.get("properties", {}).items():
                if key in instance:
                    found += self._descend(sub, instance[key], f"{where}.{key}", seen)
        if isinstance(instance, list) and "items" in schema:
            for index, item in enumerate(instance):
                found += self._descend(schema["items"], item, f"{where}[{index}]", seen)
        return found

    def _subtype(
        self,
        schema: dict[str, Any],
        instance: dict[str, Any],
        where: str,
        seen: set[tuple[str, int]],
    ) -> list[str]:
        discriminator = schema["discriminator"]
        value = instance.get(discriminator["propertyName"])
        target = discriminator.get("mapping", {}).get(value)
        if target is None:
            base = next((name for name, s in self.schemas.items() if s is schema), "")
            if base in self._open:
                return []
            return [f"{where}: unknown {discriminator['propertyName']} {value!r}"]
        name = target.rsplit("/", 1)[-1]
        key = (name, id(instance))
        if key in seen:
            return []
        seen.add(key)
        return self._validate(name, instance, where) + self._descend(
            self.schemas[name], instance, where, seen
        )


@cache
def messaging_schemas() -> SchemaSet:
    return SchemaSet(MESSAGING_API)


@cache
def webhook_schemas() -> SchemaSet:
    return SchemaSet(WEBHOOK, open_discriminators=frozenset({"Event"}))


@cache
def messaging_openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(MESSAGING_API))


_REQUEST_SCHEMAS = {
    "/v2/bot/message/reply": "ReplyMessageRequest",
    "/v2/bot/message/push": "PushMessageRequest",
    "/v2/bot/chat/loading/start": "ShowLoadingAnimationRequest",
}


def request_problems(method: str, path: str, headers: dict[str, str], body: bytes) -> list[str]:
    """What is wrong with a request tomo sent to the Messaging API."""
    request = MockRequest(
        LINE_HOST,
        method,
        path,
        headers=headers,
        data=body or None,
        content_type=headers.get("content-type", "application/json").split(";")[0],
    )
    found: list[str] = []
    try:
        messaging_openapi().validate_request(request)
    except Exception as error:  # every kind of validation error is a finding
        found.append(f"{method.upper()} {path}: {type(error).__name__}: {error}")
    schema = _REQUEST_SCHEMAS.get(path)
    if schema is None:
        return found
    try:
        payload = json.loads(body)
    except ValueError:
        return [*found, f"{path}: body is not JSON"]
    found += messaging_schemas().problems(schema, payload)
    found += _documented_limits(path, payload)
    return found


def response_problems(schema: str, body: Any) -> list[str]:
    """What is wrong with an answer the fake is about to give."""
    return messaging_schemas().problems(schema, body)


def _documented_limits(path: str, payload: dict[str, Any]) -> list[str]:
    found = []
    for index, message in enumerate(payload.get("messages", [])):
        text = message.get("text")
        if isinstance(text, str):
            if len(text.encode("utf-16-le")) // 2 > 5000:
                found.append(f"messages[{index}].text is longer than 5000 characters")
            if not text:
                found.append(f"messages[{index}].text is empty")
        for item in (message.get("quickReply") or {}).get("items", []):
            label = (item.get("action") or {}).get("label", "")
            if len(label) > 20:
                found.append(f"messages[{index}] quick reply label longer than 20: {label!r}")
    seconds = payload.get("loadingSeconds")
    if path.endswith("/loading/start") and seconds is not None and seconds % 5:
        found.append(f"loadingSeconds {seconds} is not a multiple of 5")
    return found


def webhook_problems(body: dict[str, Any]) -> list[str]:
    """What is wrong with a webhook body (as LINE would send it)."""
    return webhook_schemas().problems("CallbackRequest", body)
