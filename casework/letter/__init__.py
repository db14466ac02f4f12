"""Written letters to the client (PDF), stored with the case and then mailed or printed.

`records` the table and its queries · `texts` titles, codes and dates through the fi/sv/en catalogues ·
`drafting` what a letter says, read from casework · `rendering` HTML and PDF, pure (no database), so a
worker can draft in a read, render outside any transaction and store in a short write. The names
below are the public ones.
"""

from __future__ import annotations

from casework.letter.drafting import Person, PlanLine, PlanSummary, draft_letter, write_letter
from casework.letter.records import (
    NAMES_CASE_MANAGER,
    Delivery,
    HowDelivered,
    Letter,
    LetterDraft,
    LetterKind,
    get_letter,
    letter_for_key,
    letters_of_case,
    letters_to_deliver,
    letters_to_print,
    mark_delivered,
    mark_emailed,
    mark_printed,
    store_letter,
)
from casework.letter.rendering import letter_filename, render_html, render_pdf
from casework.letter.texts import format_date, letter_language

__all__ = [
    "NAMES_CASE_MANAGER", "Delivery", "HowDelivered", "Letter", "LetterDraft", "LetterKind", "Person", "PlanLine",
    "PlanSummary", "draft_letter", "format_date", "get_letter", "letter_filename", "letter_for_key",
    "letter_language", "letters_of_case", "letters_to_deliver", "letters_to_print", "mark_delivered", "mark_emailed",
    "mark_printed", "render_html", "render_pdf", "store_letter", "write_letter",
]
