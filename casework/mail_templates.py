"""Mail texts in Finnish, Swedish and English, written as templates so wording changes need no code change.

Each template under templates/mail/ is `<kind>.<language>.txt`: the first line is the subject, a blank line,
then the body. Staff mails name the case by its business key and say what to do; they never carry client
names or health and social data, because email leaves Polku's access control and logging.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "mail"
LANGUAGES = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"  # the clients' and staff's common language when a client's is unknown
STAFF_KINDS = frozenset({"new-referral-for-open-case", "follow-up-reminder", "service-start-overdue"})
CLIENT_KINDS = frozenset({"letter"})
# To a network partner's contact address: only a link to the referral in Polku, never client data.
PARTNER_KINDS = frozenset({"partner-referral", "partner-reminder"})
KINDS = STAFF_KINDS | CLIENT_KINDS | PARTNER_KINDS | {"partner-answer"}

# StrictUndefined: a misspelt context name fails loudly instead of mailing a blank; optional names are
# tested with `is defined` in the templates. Plain text mail: nothing to escape.
_env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), undefined=StrictUndefined, autoescape=False,
                   trim_blocks=True, keep_trailing_newline=True)


def mail_language(language: str | None) -> str:
    """The language a mail is written in: the one asked for when Polku has texts in it, else Finnish."""
    code = (language or "").strip().lower()[:2]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def compose(kind: str, language: str | None, **context: Any) -> tuple[str, str]:
    """(subject, body) of a mail of `kind` in `language` (Finnish for a language without texts).

    Staff kinds take `case_key` (and optionally `referral_key`, `redirected_from`); `partner-answer` takes
    `case_key` and `answer` too; `letter` takes `client_name`, `case_manager_name` (may be None) and
    `letter_title`; the partner kinds take `link`.
    """
    if kind not in KINDS:
        raise ValueError(f"no mail template '{kind}' (known: {', '.join(sorted(KINDS))})")
    text = _env.get_template(f"{kind}.{mail_language(language)}.txt").render(**context)
    subject, _, body = text.partition("\n")
    return " ".join(subject.split()), body.strip("\n") + "\n"
