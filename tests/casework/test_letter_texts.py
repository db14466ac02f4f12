"""Letter texts come from the fi/sv/en gettext catalogues: complete, consistent, and read from a fresh clone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from casework.catalogues import LANGUAGES, TRANSLATIONS_DIR, catalogue_path, language_of, translations
from casework.letter import LetterKind, format_date, letter_filename, render_html
from casework.letter.drafting import Person, PlanLine, PlanSummary
from casework.letter.records import Letter
from casework.letter.texts import TITLES

ROOT = Path(__file__).resolve().parents[2]
Key = tuple[str | None, str | tuple[str, ...]]


def extracted() -> set[Key]:
    """Every message in the templates and casework code, found as `pybabel extract -F babel.cfg` finds them."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(ROOT / "babel.cfg"))
    found: set[Key] = set()
    for _file, _line, message, _comments, context in extract_from_dir(str(ROOT), method_map, options_map):
        found.add((context, message if isinstance(message, str) else tuple(message)))
    return found


def catalogue(language: str) -> dict[Key, Message]:
    with catalogue_path(language).open("rb") as po:
        cat = read_po(po, locale=language)
    return {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)): m for m in cat if m.id}


def test_every_message_is_in_every_catalogue_and_translated_in_finnish_and_swedish() -> None:
    messages = extracted()
    assert len(messages) > 50
    for language in LANGUAGES:
        entries = catalogue(language)
        assert set(entries) == messages, f"{language}: run the update commands in casework/catalogues.py"
        if language == "en":
            continue  # English is the messages' own language
        for key, entry in entries.items():
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            assert all(strings) and not entry.fuzzy, f"{language}: {key} is not translated"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogues_have_no_placeholder_mistakes(language: str) -> None:
    with catalogue_path(language).open("rb") as po:
        cat = read_po(po, locale=language)
    problems = [(message.id, [str(e) for e in errors]) for message, errors in cat.check()]
    assert problems == []


def test_catalogues_are_read_from_the_po_source_without_a_compile_step() -> None:
    assert not list(TRANSLATIONS_DIR.rglob("*.mo"))
    assert translations("fi").gettext("Kind regards") == "Ystävällisin terveisin"
    assert translations("sv").ngettext("We go through the plan together every month, and whenever you ask.",
                                       "We go through the plan together every %(count)s months, and whenever you "
                                       "ask.", 3) % {"count": 3} == (
        "Vi går igenom planen tillsammans med 3 månaders mellanrum och alltid när du ber om det.")
    assert language_of("SV") == "sv" and language_of("de") == "fi" and language_of(None) == "fi"


FULL_PLAN = PlanSummary(2, [PlanLine("Main", date(2026, 12, 31))], [PlanLine("Step", date(2026, 3, 31), "Aino")],
                        [PlanLine("Three months", date(2026, 2, 1), "Kalle", "Work trial", "Shop Oy")],
                        [PlanLine("Book a check", date(2026, 1, 31))], 3, date(2026, 3, 2))
MANAGER = Person("aino", "Aino Esimerkki", "040 1", "aino@example.invalid")


def context(kind: LetterKind, language: str) -> dict[str, object]:
    return {"kind": kind.value, "plan": FULL_PLAN, "case_manager": MANAGER, "previous": MANAGER,
            "destination": "Destination", "destination_code": "typ", "reason": "Reason.", "next_responsible": "Org",
            "next_contact": "Tel", "summary": "Summary", "meeting_date": date(2026, 2, 3), "meeting_past": False,
            "lang": language, "title": "Title", "client_name": "Maija", "service": "Service", "unit": "Unit",
            "municipality": "Iisalmi", "date_text": "5.1.2026"}


@pytest.mark.parametrize("kind", list(LetterKind))
def test_finnish_and_swedish_letters_contain_no_english_sentence(kind: LetterKind) -> None:
    english = render_html(kind, "en", context(kind, "en"))
    sentences = [s for s in ("Dear Maija", "What happens next?", "Kind regards", "Please keep this letter",
                             "Contact details", "Your plan", "Starts by") if s in english]
    assert len(sentences) >= 3
    for language in ("fi", "sv"):
        html = render_html(kind, language, context(kind, language))
        assert not [s for s in sentences if s in html], language


def test_dates_and_file_names_follow_the_letters_language() -> None:
    day = date(2026, 1, 5)
    assert [format_date(day, lang) for lang in ("fi", "sv", "en", "de")] == [
        "5.1.2026", "5.1.2026", "5 January 2026", "5.1.2026"]
    letter = Letter(id=12, language="sv", created_at=date(2026, 1, 5))
    assert letter_filename(letter) == "brev-2026-01-05-12.pdf"
    assert {lang: translations(lang).gettext(TITLES[LetterKind.CASE_MANAGER_CHANGED]) for lang in LANGUAGES} == {
        "fi": "Asiakasvastaavasi vaihtuu", "sv": "Du får en ny klientansvarig", "en": "Your case manager is changing"}
