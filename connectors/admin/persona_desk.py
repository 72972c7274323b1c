"""What a manager does to the persona: save a draft, start from a relationship, publish
with the regression replay, roll back, compare versions, preview, check a text.

Shared by the JSON API and the web admin. Every change is written to the audit
log (who, what: field names and version numbers, never content). Changes are
serialised by a lease in the database, so they take turns across every process
(`tomo serve` scaled out, the `tomo persona` commands). Used by the command line
too: `tomo persona publish` replays and audits exactly as the admin does.

With a language model configured, starting from a relationship definition drafts a
whole persona (bot/persona_draft.py), with the closest preset as its example; when
the model fails or answers something that is not a persona, the closest preset is
used and the manager is told so.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import ValidationError

from bot.persona_draft import DraftFailed, LineFinding, PersonaDrafter, own_line_findings
from connectors.admin.preview import Preview, preview_reply, reply_messages
from connectors.persona_words import say
from connectors.runtime import Runtime, build_persona_drafter
from memory.admin_state import LeaseBusy, lease
from persona.presets import DEMO_BRAND, choose_preset, commitment_from_text, load_brand, load_preset
from persona.regression import RegressionReport, replay
from persona.repository import NoPersonaError, persona_to_yaml
from persona.schema import Persona
from persona.tone import Finding, check_tone

log = logging.getLogger(__name__)

# What a persona keeps when it starts over from another relationship: the brand's own.
BRAND_FIELDS = ("brand", "commitments", "faq")
PERSONA_LEASE = "persona"


@dataclass(frozen=True)
class FieldError:
    """One validation problem, named by its dotted field path (voice.address)."""

    field: str
    message: str
    type: str

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "msg": self.message, "type": self.type}


class DraftInvalid(ValueError):
    """A draft that is not a valid persona; `errors` name the fields."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = tuple(errors)


class PersonaConflict(RuntimeError):
    """The operation does not fit the persona's state (nothing to publish, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _field_errors(error: ValidationError) -> list[FieldError]:
    return [
        FieldError(
            ".".join(str(part) for part in problem["loc"]) or "(persona)",
            problem["msg"],
            problem["type"],
        )
        for problem in error.errors()
    ]


def parse_persona(data: Any) -> Persona:
    """A persona from JSON-like data; DraftInvalid names every wrong field."""
    try:
        return Persona.model_validate(data)
    except ValidationError as error:
        raise DraftInvalid(_field_errors(error)) from error


def parse_persona_yaml(text: str) -> Persona:
    """A persona from YAML text; a YAML syntax error is reported on the field `yaml`."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DraftInvalid(
            [FieldError("yaml", f"YAML として読めません{where}", "yaml_syntax")]
        ) from error
    return parse_persona(loaded)


def changed_fields(before: Persona | None, after: Persona) -> list[str]:
    """Which fields differ, as dotted names (voice.first_person, examples)."""
    new = after.model_dump(mode="json")
    if before is None:
        return sorted(new)
    old = before.model_dump(mode="json")
    changed = []
    for key in new.keys() | old.keys():
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            changed += [f"{key}.{sub}" for sub in a.keys() | b.keys() if a.get(sub) != b.get(sub)]
        else:
            changed.append(key)
    return sorted(changed)


@dataclass(frozen=True)
class PersonaState:
    draft: Persona | None
    published: Persona | None
    version: int | None
    changed: tuple[str, ...]  # fields where the draft differs from the published version


@dataclass(frozen=True)
class VersionInfo:
    version: int
    in_force: bool
    word: str
    brand: str
    first_person: str
    published_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "in_force": self.in_force,
            "relationship": self.word,
            "brand": self.brand,
            "first_person": self.first_person,
            "published_at": self.published_at.isoformat(),
        }


@dataclass(frozen=True)
class RelationshipStart:
    """A draft started from a relationship definition: drafted by the language model, or
    the preset (exact, or the closest one), and the persona's own lines' tone findings."""

    asked: str
    preset: str
    word: str  # the preset's relationship word
    exact: bool
    persona: Persona
    drafted_by: str = "preset"  # "llm" or "preset"
    failure: str | None = None  # why the model's draft was not used ("timeout", …)
    findings: tuple[LineFinding, ...] = ()

    @property
    def note(self) -> str:
        """What the manager is told: who drafted it, and from which preset."""
        if self.drafted_by == "llm":
            return say("start.drafted", asked=self.asked, word=self.word)
        if self.failure is not None:
            key = "start.fallback_preset" if self.exact else "start.fallback_closest"
            return say(key, reason=say(f"failure.{self.failure}"), word=self.word)
        if self.exact:
            return say("start.preset", word=self.word)
        return say("start.closest", asked=self.asked, word=self.word)

    @property
    def findings_note(self) -> str:
        if self.findings:
            return say("start.findings", count=len(self.findings))
        return say("start.no_findings")

    def to_json(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "relationship": self.word,
            "exact": self.exact,
            "drafted_by": self.drafted_by,
            "llm_failure": self.failure,
            "note": self.note,
            "findings_note": self.findings_note,
            "findings": [finding.to_json() for finding in self.findings],
            "draft": self.persona.model_dump(mode="json"),
        }


@dataclass(frozen=True)
class PublishOutcome:
    published: bool
    version: int | None
    report: RegressionReport
    forced: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "version": self.version,
            "forced": self.forced,
            "regression": self.report.to_json(),
        }


class PersonaDesk:
    """The persona operations of the admin, over the runtime opened by the app's lifespan."""

    def __init__(self, runtime: Callable[[], Runtime]) -> None:
        self._runtime = runtime
        self._drafter: PersonaDrafter | None = None

    @property
    def runtime(self) -> Runtime:
        return self._runtime()

    @contextlib.asynccontextmanager
    async def _changing(self) -> AsyncIterator[None]:
        """One change at a time, across every process on the database."""
        try:
            async with lease(self.runtime.store.engine, PERSONA_LEASE):
                yield
        except LeaseBusy as busy:
            raise PersonaConflict("busy", say("desk.busy")) from busy

    def _persona_drafter(self) -> PersonaDrafter | None:
        if self._drafter is None:
            self._drafter = build_persona_drafter(self.runtime.settings)
        return self._drafter

    async def _audit(self, actor: str, action: str, count: int, detail: str) -> None:
        await self.runtime.store.audit(
            actor=actor, action=action, customer_id=None, count=count, detail=detail
        )

    # -- reading --------------------------------------------------------------------

    def state(self) -> PersonaState:
        personas = self.runtime.personas
        version = personas.published_version()
        published = personas.version(version) if version is not None else None
        try:
            draft: Persona | None = personas.draft()
        except NoPersonaError:
            draft = None
        changed = tuple(changed_fields(published, draft)) if draft is not None else ()
        return PersonaState(draft, published, version, changed)

    def persona(self, which: str) -> Persona:
        """The draft or the published persona; PersonaConflict when there is none."""
        state = self.state()
        persona = state.draft if which == "draft" else state.published
        if persona is None:
            raise PersonaConflict("no_persona", "ペルソナがまだありません")
        return persona

    def versions(self) -> list[VersionInfo]:
        personas = self.runtime.personas
        current = personas.published_version()
        infos = []
        for version in personas.versions():
            persona = personas.version(version)
            path = personas.root / "versions" / f"{version:04d}.yaml"
            infos.append(
                VersionInfo(
                    version,
                    version == current,
                    persona.relationship.word,
                    persona.brand,
                    persona.voice.first_person,
                    datetime.fromtimestamp(path.stat().st_mtime, UTC),
                )
            )
        return infos

    def diff(self, version: int, against: int | None = None) -> str:
        """A unified diff of the YAML: `against` (default: the version in force) → `version`."""
        personas = self.runtime.personas
        target = personas.version(version)
        base_version = personas.published_version() if against is None else against
        base = personas.version(base_version) if base_version is not None else None
        before = persona_to_yaml(base).splitlines() if base is not None else []
        return "\n".join(
            difflib.unified_diff(
                before,
                persona_to_yaml(target).splitlines(),
                fromfile=f"v{base_version}" if base_version is not None else "(none)",
                tofile=f"v{version}",
                lineterm="",
            )
        )

    def draft_diff(self) -> str:
        """A unified diff of the YAML: the published version → the draft."""
        state = self.state()
        if state.draft is None:
            return ""
        before = persona_to_yaml(state.published).splitlines() if state.published else []
        return "\n".join(
            difflib.unified_diff(
                before,
                persona_to_yaml(state.draft).splitlines(),
                fromfile=f"v{state.version}",
                tofile="draft",
                lineterm="",
            )
        )

    # -- changing ---------------------------------------------------------------------

    async def save_draft(self, persona: Persona, *, actor: str) -> list[str]:
        """Save the draft; returns the fields that changed (also audited)."""
        async with self._changing():
            personas = self.runtime.personas
            try:
                before: Persona | None = personas.draft()
            except NoPersonaError:
                before = None
            changed = changed_fields(before, persona)
            await asyncio.to_thread(personas.save_draft, persona)
            await self._audit(
                actor, "persona_draft_saved", len(changed), "fields=" + ",".join(changed)
            )
            return changed

    def _brand(self) -> dict[str, Any]:
        """The brand's own fields: the draft's, or the demo brand's before any persona."""
        draft = self.state().draft
        if draft is None:
            return {
                key: value for key, value in load_brand(DEMO_BRAND).items() if key in BRAND_FIELDS
            }
        kept = draft.model_dump(mode="json")
        return {key: kept[key] for key in BRAND_FIELDS}

    async def start_from_relationship(
        self,
        relationship: str,
        *,
        actor: str,
        brand: Mapping[str, Any] | None = None,
        commitments: Sequence[str] | None = None,
    ) -> RelationshipStart:
        """Start the draft from a relationship definition (a word, or free text).

        `brand` (name, commitments, FAQ) defaults to the draft's own; `commitments`,
        free texts, replace the brand's. With a language model the whole persona is
        drafted, with the closest preset as its example; offline, or when the model's
        draft cannot be used, that preset is the draft. Saved as the draft, never
        published; the persona's own lines are tone-checked against it.
        """
        encoder = self.runtime.store.encoder

        def similarity(text: str, candidates: Sequence[str]) -> list[float]:
            vectors = encoder.encode([text, *candidates])
            return [float(score) for score in vectors[1:] @ vectors[0]]

        choice = await asyncio.to_thread(choose_preset, relationship, similarity)
        own = {key: value for key, value in (brand or self._brand()).items() if key in BRAND_FIELDS}
        if commitments is not None:
            own["commitments"] = [
                commitment_from_text(text).model_dump(mode="json")
                for text in commitments
                if text.strip()
            ]
        persona = parse_persona({**load_preset(choice.key), **own})
        drafted_by, failure = "preset", None
        drafter = self._persona_drafter()
        if drafter is not None:
            try:
                persona = await drafter.draft(relationship, persona)
                drafted_by = "llm"
            except DraftFailed as failed:
                log.warning("the persona draft by the language model failed: %s", failed)
                failure = failed.kind
        findings = tuple(own_line_findings(persona))
        changed = await self.save_draft(persona, actor=actor)
        await self._audit(
            actor,
            "persona_draft_from_relationship",
            len(changed),
            f"preset={choice.key} exact={str(choice.exact).lower()} drafted_by={drafted_by}"
            + (f" llm_failure={failure}" if failure else "")
            + f" findings={len(findings)}",
        )
        return RelationshipStart(
            relationship,
            choice.key,
            choice.word,
            choice.exact,
            persona,
            drafted_by=drafted_by,
            failure=failure,
            findings=findings,
        )

    async def regression(self) -> RegressionReport:
        state = self.state()
        if state.draft is None:
            raise PersonaConflict("no_persona", "ペルソナがまだありません")
        responder = self.runtime.responder

        async def reply(persona: Persona, message: str) -> Sequence[str]:
            return await reply_messages(responder, persona, message)

        return await replay(state.draft, state.published, reply)

    async def publish(self, *, force: bool, actor: str) -> PublishOutcome:
        """Replay the test messages; publish when the draft's replies have no tone
        findings, or anyway when `force`. Nothing is published when the draft equals
        the version in force."""
        async with self._changing():
            state = self.state()
            if state.draft is None:
                raise PersonaConflict("no_persona", "ペルソナがまだありません")
            if state.published is not None and state.draft == state.published:
                raise PersonaConflict("nothing_to_publish", "下書きは公開中のバージョンと同じです")
            report = await self.regression()
            if report.findings and not force:
                return PublishOutcome(False, None, report, forced=False)
            personas = self.runtime.personas
            version = await asyncio.to_thread(personas.publish)
            await self._audit(
                actor,
                "persona_published",
                len(state.changed),
                f"version={version} from={state.version} findings={report.findings} "
                f"forced={str(bool(force and report.findings)).lower()} "
                f"fields={','.join(state.changed)}",
            )
            return PublishOutcome(True, version, report, forced=bool(force and report.findings))

    async def rollback(self, version: int, *, actor: str) -> None:
        """Put an earlier version back in force (KeyError when there is no such version)."""
        async with self._changing():
            personas = self.runtime.personas
            current = personas.published_version()
            await asyncio.to_thread(personas.rollback, version)
            await self._audit(actor, "persona_rolled_back", 1, f"version={version} from={current}")

    # -- trying ---------------------------------------------------------------------------

    async def preview(self, text: str, *, which: str, customer: str | None) -> Preview:
        runtime = self.runtime
        return await preview_reply(
            runtime.store, runtime.responder, self.persona(which), text, customer or None
        )

    def check(self, text: str) -> tuple[int | None, list[Finding]]:
        """Tone findings against the published persona, and its version."""
        state = self.state()
        if state.published is None:
            raise PersonaConflict("no_persona", "公開中のペルソナがありません")
        return state.version, check_tone(text, state.published)
