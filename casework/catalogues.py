"""Polku's texts in Finnish, Swedish and English: gettext catalogues, read straight from their .po files.

The catalogues use the standard layout (`translations/<language>/LC_MESSAGES/messages.po`, domain
`messages`), so Babel's tools and Flask-Babel find them. They are read from the .po source when first
used, so a fresh clone needs no compile step and a compiled .mo can never be older than its source.
Messages are written in English; `en/messages.po` exists so that English is a catalogue like the others.

After changing a message in the code or the templates (tests/casework/test_letter_texts.py fails until then):

    .venv/bin/pybabel extract -F babel.cfg --no-location --sort-output -w 120 --project=polku --version=0.1 \
        --copyright-holder=Polku -o casework/translations/messages.pot .
    .venv/bin/pybabel update -i casework/translations/messages.pot -d casework/translations -w 120 \
        --no-fuzzy-matching --ignore-pot-creation-date

then write the new Finnish and Swedish texts into `fi/` and `sv/LC_MESSAGES/messages.po`.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"
LANGUAGES = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"  # the clients' and staff's common language when a client's is unknown


def language_of(value: object) -> str:
    """A language code Polku has texts in (an enum's value, "FI", "sv-FI"...), else Finnish."""
    code = str(getattr(value, "value", value) or "").strip().lower()[:2]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def catalogue_path(language: str) -> Path:
    return TRANSLATIONS_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The language's catalogue as gettext translations (fuzzy entries left out, as `pybabel compile` does)."""
    language = language_of(language)
    with catalogue_path(language).open("rb") as po:
        catalogue = read_po(po, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)
