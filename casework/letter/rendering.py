"""A letter's HTML from its template and its PDF from the HTML: pure functions, no database.

One set of templates (`templates/letters/<kind>.html`) serves every language: their sentences are
gettext messages, translated by the catalogue of the letter's language.
"""

from __future__ import annotations

from functools import cache, partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from casework.catalogues import translations
from casework.letter.records import Letter, LetterKind
from casework.letter.texts import file_stem, format_date, letter_language

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "letters"


@cache
def _environment(language: str) -> Environment:
    """One environment per language, with that language's catalogue installed (never switched per call)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    # The i18n extension adds install_gettext_translations to the environment at run time; mypy cannot see it.
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["d"] = partial(format_date, language=language)
    return env


def render_html(kind: LetterKind, language: str, context: dict[str, Any]) -> str:
    """The letter as HTML in `language` (Finnish when Polku has no texts in it)."""
    return _environment(letter_language(language)).get_template(f"{kind.value}.html").render(**context)


def render_pdf(html: str) -> bytes:
    """HTML to PDF; WeasyPrint is imported here because importing it takes a while."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


def letter_filename(letter: Letter) -> str:
    """The attachment's file name, e.g. kirje-2026-01-05-12.pdf."""
    return f"{file_stem(letter.language)}-{letter.created_at:%Y-%m-%d}-{letter.id}.pdf"
