"""Deploying process definitions: parse, validate, store as a new version, cache parsed specs."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.camunda.parser.parser import ParsedDeployment, parse_resources
from engine.camunda.specs import sharing
from engine.camunda_forms import parse_form_file
from engine.db import Database
from engine.errors import NotFound, ValidationFailed
from engine.models import Definition, Deployment, Resource


@dataclass(frozen=True)
class LoadedDefinition:
    """A definition version with its parsed specs, ready to run cases."""

    id: int
    key: str
    version: int
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    decisions: Any
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)  # the deployment's Camunda Forms by id


@dataclass
class DeployResult:
    deployment_id: int | None
    definitions: list[tuple[str, int, bool]] = field(default_factory=list)  # key, version, newly created
    warnings: list[str] = field(default_factory=list)


def content_hash(resources: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(resources):
        digest.update(name.encode() + b"\0" + hashlib.sha256(resources[name]).digest())
    return digest.hexdigest()


def start_messages(spec: Any) -> list[str]:
    return sorted({s.event_definition.name for s in spec.bpmn_start_events
                   if isinstance(s.event_definition, MessageEventDefinition)})


class DefinitionStore:
    """Versions of process definitions in the database, with parsed specs cached per version."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[int, LoadedDefinition] = {}
        self._forms: dict[str, dict[str, Any] | None] = {}  # parsed .form resources by content hash
        self._lock = threading.Lock()

    @staticmethod
    def validate(resources: dict[str, bytes]) -> ParsedDeployment:
        """Parse and check; raises ValidationFailed listing every problem."""
        return parse_resources(resources)

    def deploy(self, resources: dict[str, bytes], name: str = "deployment", source: str | None = None) -> DeployResult:
        """Store each executable process as a new version unless identical content is already latest."""
        parsed = parse_resources(resources)
        digest = content_hash(resources)
        now = datetime.now(UTC)
        result = DeployResult(None, warnings=[w.line() for w in parsed.warnings])
        with self.db.transaction() as session:
            deployment: Deployment | None = None
            for key, process in sorted(parsed.processes.items()):
                latest = session.execute(
                    select(Definition).where(Definition.key == key).order_by(Definition.version.desc()).limit(1)
                ).scalar_one_or_none()
                if latest is not None and latest.hash == digest:
                    result.definitions.append((key, latest.version, False))
                    continue
                if deployment is None:
                    deployment = Deployment(name=name, source=source, created_at=now)
                    session.add(deployment)
                    session.flush()
                    for res_name, content in sorted(resources.items()):
                        session.add(Resource(deployment_id=deployment.id, name=res_name, content=content,
                                             hash=hashlib.sha256(content).hexdigest()))
                version = (latest.version if latest else 0) + 1
                session.add(Definition(key=key, version=version, name=process.name, deployment_id=deployment.id,
                                       hash=digest, start_messages=start_messages(process.spec),
                                       warnings=result.warnings, created_at=now))
                result.definitions.append((key, version, True))
            result.deployment_id = deployment.id if deployment else None
        return result

    def latest(self, key: str) -> Definition:
        with self.db.read() as session:
            row = session.execute(
                select(Definition).where(Definition.key == key).order_by(Definition.version.desc()).limit(1)
            ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no process definition with key '{key}' is deployed")
        return row

    def latest_versions(self) -> list[Definition]:
        """The latest version of every process key, by key."""
        with self.db.read() as session:
            latest = select(Definition.key, func.max(Definition.version).label("v")).group_by(Definition.key).subquery()
            return list(session.execute(
                select(Definition).join(latest, (Definition.key == latest.c.key) & (Definition.version == latest.c.v))
                .order_by(Definition.key)).scalars())

    def by_start_message(self, message: str) -> list[Definition]:
        return [d for d in self.latest_versions() if message in (d.start_messages or [])]

    def load(self, definition_id: int, session: Session | None = None) -> LoadedDefinition:
        """The parsed definition; parsed once per version and kept in memory.

        A caller already inside a transaction passes its session: on SQLite a second transaction
        would wait for the write lock its own caller holds. The lock only guards parsing and the
        cache, never a database call: a thread holding it while waiting for the database, and a
        case transaction holding the database while waiting for it, stalled each other.
        """
        cached = self._cache.get(definition_id)
        if cached is not None:
            return cached
        if session is not None:
            siblings, resources = _deployment_of(session, definition_id)
        else:
            with self.db.read() as reader:
                siblings, resources = _deployment_of(reader, definition_id)
        with self._lock:  # parse each deployment once, even when several threads find the cache cold
            cached = self._cache.get(definition_id)
            if cached is not None:
                return cached
            parsed = parse_resources(resources, check_size=False)  # deployed under the limits of its day
            for sibling in siblings:
                process = parsed.processes[sibling.key]
                sharing.link(process.spec, process.subprocess_specs)  # before any case sees the shared specs
                self._cache[sibling.id] = LoadedDefinition(
                    sibling.id, sibling.key, sibling.version, sibling.name,
                    process.spec, process.subprocess_specs, parsed.decisions, parsed.forms)
            return self._cache[definition_id]

    def linked_form(self, definition: LoadedDefinition, form: Mapping[str, Any] | None,
                    session: Session | None = None) -> dict[str, Any] | None:
        """The Camunda Form a task's camunda:formRef names, found by its binding (Camunda's default: latest).

        `deployment`: the form deployed with the definition; `latest`: the newest deployed form of that id;
        `version`: the n-th different content deployed under that id. None when the task links no form
        or the form was never deployed.
        """
        ref = (form or {}).get("form_ref")
        if not ref or "${" in ref or "#{" in ref:
            return None
        binding = (form or {}).get("form_ref_binding") or "latest"
        if binding == "deployment":
            return definition.forms.get(ref)
        if session is not None:
            versions = self._form_versions(session, ref)
        else:
            with self.db.read() as reader:
                versions = self._form_versions(reader, ref)
        if binding == "version":
            number = str((form or {}).get("form_ref_version") or "").strip()
            return versions[int(number) - 1] if number.isdigit() and 0 < int(number) <= len(versions) else None
        return versions[-1] if versions else definition.forms.get(ref)

    def _form_versions(self, session: Session, ref: str) -> list[dict[str, Any]]:
        """Every different schema deployed under form id `ref`, oldest first (parsed once per content)."""
        rows = session.execute(select(Resource.id, Resource.hash).where(Resource.name.like("%.form"))
                               .order_by(Resource.deployment_id, Resource.id)).all()
        unknown = [row_id for row_id, digest in rows if digest not in self._forms]
        if unknown:
            for digest, content in session.execute(select(Resource.hash, Resource.content)
                                                   .where(Resource.id.in_(unknown))).all():
                try:
                    self._forms[digest] = parse_form_file(None, content)
                except ValidationFailed:
                    self._forms[digest] = None
        versions: list[dict[str, Any]] = []
        last: str | None = None
        for _row_id, digest in rows:
            schema = self._forms.get(digest)
            if schema is not None and schema.get("id") == ref and digest != last:
                versions.append(schema)
                last = digest
        return versions


def _deployment_of(session: Session, definition_id: int) -> tuple[list[Definition], dict[str, bytes]]:
    """The definitions deployed together with `definition_id` and their resources."""
    row = session.get(Definition, definition_id)
    if row is None:
        raise NotFound(f"process definition {definition_id} does not exist")
    resources = {r.name: r.content for r in session.execute(
        select(Resource).where(Resource.deployment_id == row.deployment_id)).scalars()}
    siblings = list(session.execute(select(Definition).where(Definition.deployment_id == row.deployment_id)).scalars())
    return siblings, resources
