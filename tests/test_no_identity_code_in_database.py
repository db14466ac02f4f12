"""No identity code anywhere in the database, and clients' names only where they belong, after the whole demo.

The probe of issue 9: the demo's 32 cases (fictitious codes, 900-999 series) were built and the database file
searched for the identity code pattern; 8 cases still held a code in their saved workflow state (the data of
the completed start task, a called process's copy), and SQLite's WAL held copies too. A referral is now
received into the client record before its case starts (casework/referral.py), so the process never sees
the code. Every column of every row of every table is read back (the saved state included); on SQLite the
database file and its -wal file are searched byte by byte as well.

Where a client's name may be in clear, by design: the client record (`client.name`, what staff find and
address the client by) and the mail to that client in the outbox (`outbox_message.subject`/`body` greet
them by name, and queued mail must be sendable as it stands). Letters are PDFs (`letter.pdf`, and the
copy attached to the mail, `outbox_attachment.content`): compressed binary documents that name the
client by design and are not searched for names. Nowhere else: not in a case's variables or saved state,
jobs, tasks, history, incidents, mail to staff or the access log.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select, text

from casework.client import Client, identity_code_of
from casework.identity_code import IdentityCodeKeys, fictitious_code, validation_error
from engine.runtime import Engine
from polku.demo import DEMO, load_demo
from polku.resources import collect_dir
from polku.settings import ROOT
from workers.services import Services

CODE_PATTERN = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]")
# Any code, in either case, standing on its own (not a run of digits inside a uuid, a hex digest or base64)
ANY_CODE = re.compile(rf"(?<![0-9A-Za-z]){CODE_PATTERN.pattern}(?![0-9A-Za-z])", re.IGNORECASE)


def valid_codes(text: str) -> list[str]:
    """Whatever in the text is an identity code with a valid date and checksum: a code that leaked. Random ids and
    binary bytes on disk look like codes now and then (a page's '720084-178f'), but never pass the checksum."""
    return [found for found in ANY_CODE.findall(text) if validation_error(found.upper()) is None]
DOCUMENTS = {("letter", "pdf"), ("outbox_attachment", "content")}  # PDFs: they name the client by design


def as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def every_row(engine: Engine) -> Iterator[tuple[str, dict[str, str]]]:
    """(table, {column: value as text}) for every row of every table in the database, read without the models."""
    with engine.db.engine.connect() as conn:
        inspector = inspect(conn)
        for table in inspector.get_table_names():
            columns = [c["name"] for c in inspector.get_columns(table)]
            quoted = ", ".join(f'"{c}"' for c in columns)
            for row in conn.execute(text(f'SELECT {quoted} FROM "{table}"')):
                yield table, {column: as_text(value) for column, value in zip(columns, row, strict=True)}


def name_belongs(table: str, column: str, row: dict[str, str], client_id: str) -> bool:
    if (table, column) == ("client", "name"):
        return row["id"] == client_id
    return table == "outbox_message" and column in ("subject", "body") and row["recipient"] == f"client:{client_id}"


def build_demo(engine: Engine) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """The demo in this database: its case ids and each demo client's (id, identity code) by name."""
    engine.deploy(collect_dir(ROOT / "bpmn"), name="bpmn/")
    keys = IdentityCodeKeys(secrets.token_urlsafe(32))
    ids = load_demo(engine, Services(engine.db, engine.clock, keys, None, engine))
    with engine.db.transaction() as session:
        clients = {c.name: (c.id, identity_code_of(keys, c)) for c in session.scalars(select(Client))}
    return ids, clients


def test_the_demo_leaves_no_identity_code_and_no_name_out_of_place(engine: Engine, database_url: str) -> None:
    ids, clients = build_demo(engine)
    repeats = sum(step == "duplicate" for _, step, _ in DEMO)  # a client with an open case referred again
    assert len(ids) == len(DEMO) >= 30 and len(clients) == len(DEMO) - repeats
    generated = {fictitious_code(date(1970, 1, 1) + timedelta(days=397 * n), 900 + n) for n in range(1, len(DEMO) + 1)}
    codes = {code for _, code in clients.values()} | generated  # the one left unused by the repeat referral too
    assert all(CODE_PATTERN.fullmatch(code) for code in codes)

    codes_found: list[tuple[str, str, str]] = []
    names_out_of_place: set[tuple[str, str]] = set()
    names_in_place: set[tuple[str, str]] = set()
    states = 0
    for table, row in every_row(engine):
        states += table == "case" and bool(row["state"])
        for column, value in row.items():
            codes_found += [(table, column, code) for code in codes if code in value.upper()]
            codes_found += [(table, column, found) for found in valid_codes(value)]
            if (table, column) in DOCUMENTS:
                continue
            for name, (client_id, _) in clients.items():
                if name in value:
                    belongs = name_belongs(table, column, row, client_id)
                    (names_in_place if belongs else names_out_of_place).add((table, column))
    assert states == len(ids)  # the saved workflow of every case, the completed ones included, was read
    assert codes_found == []
    assert names_out_of_place == set()
    assert {("client", "name"), ("outbox_message", "body")} <= names_in_place  # the search does find names

    if not engine.db.is_postgres:  # what SQLite keeps on disk, freed pages and the write-ahead log included
        path = Path(engine.db.engine.url.database or "")
        files = [path, path.with_name(path.name + "-wal")]  # the WAL stays while the engine's connections are open
        disk = b"".join(file.read_bytes() for file in files)
        assert any(name.encode() in disk for name in clients)  # the bytes searched hold the clients' records
        for file in files:
            raw = file.read_bytes()
            assert [code for code in codes if code.encode() in raw.upper()] == [], file.name
            assert valid_codes(raw.decode("latin-1")) == [], file.name
