"""What a letter says outside its templates: titles, the sender, the process's codes as the client reads them, dates.

Every text here is an English message id, marked with `N_` so that `pybabel extract` finds it, and
translated through the fi/sv/en catalogues (`casework.catalogues`) when a letter is written. The
sentences around them live in the templates (`templates/letters/`), in the same catalogues.
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date as babel_format_date

from casework.catalogues import language_of, translations
from casework.letter.records import LetterKind

# Dates as a client in Finland reads them, whatever the letter's language: 5.1.2026 in Finnish and Swedish,
# 5 January 2026 in English (a numeric date would read as 1 May to some English readers).
DATE_FORMATS: dict[str, tuple[str, str]] = {"fi": ("fi_FI", "short"), "sv": ("sv_FI", "short"),
                                           "en": ("en_FI", "long")}


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where the letter is written."""
    return message


TITLES: dict[LetterKind, str] = {
    LetterKind.GUIDANCE_TO_BASIC_SERVICES: N_("Guidance to services"),
    LetterKind.CASE_MANAGER_NAMED: N_("Your case manager in work ability support"),
    LetterKind.CASE_MANAGER_CHANGED: N_("Your case manager is changing"),
    LetterKind.CLOSURE_SUMMARY: N_("Summary: your work ability support is ending"),
}

SENDER_SERVICE = N_("Work ability support")
SENDER_UNIT = N_("Health and social services centre")

# The values of basicServicesDestination in bpmn/work-ability-support.bpmn, as the client should read them.
DESTINATIONS: dict[str, str] = {
    "typ": N_("Multisectoral joint service promoting employment (TYP)"),
    "disability_services": N_("Disability services"),
    "unemployed_nurse": N_("The nurse for unemployed people"),
    "employment_services": N_("Employment services"),
    "own_worker": N_("Your designated key worker"),
}

# Closure reasons: the form's values (closureReason) and casework's ClosureReason values.
CLOSURE_REASONS: dict[str, str] = {
    "employment": N_("You have found work."),
    "education": N_("You are starting studies."),
    "vocational_rehabilitation": N_("You are moving on to vocational rehabilitation by Kela."),
    "pension_process": N_("Your pension matter continues."),
    "employment_services_only": N_("You continue with employment services only."),
    "employment_services": N_("You continue with employment services only."),
    "moved_away": N_("You have moved to another area."),
    "not_reached": N_("We have not been able to reach you."),
    "client_ended": N_("You decided to end the support yourself."),
    "basic_services": N_("You have been guided to basic services."),
    "own_worker": N_("Your designated key worker continues with you."),
}

SERVICE_TYPES: dict[str, str] = {
    "health_check": N_("Health check"),
    "work_ability_assessment": N_("Work ability assessment"),
    "vocational_rehabilitation": N_("Vocational rehabilitation (Kela)"),
    "rehabilitative_work_activity": N_("Rehabilitative work activity"),
    "work_trial": N_("Work trial"),
    "job_coach": N_("Job coaching"),
    "supported_employment": N_("Supported employment"),
    "mental_health": N_("Mental health services"),
    "substance_abuse": N_("Substance abuse services"),
    "social_work": N_("Social work"),
    "education": N_("Education"),
    "debt_counselling": N_("Financial and debt counselling"),
    "ngo_activity": N_("NGO activity"),
    "other": N_("Other service"),
}


def letter_language(value: object) -> str:
    """The client's language if a letter can be written in it, else Finnish."""
    return language_of(value)


def translate(language: str, message: str) -> str:
    return translations(letter_language(language)).gettext(message)


def translate_code(language: str, table: dict[str, str], code: str) -> str:
    """A process code (destination, service type...) as the client reads it; an unknown code as it is."""
    message = table.get(code)
    return translate(language, message) if message is not None else code


def format_date(value: date | datetime | None, language: str) -> str:
    """A date in the letter's language, as Babel's locale data for Finland writes it."""
    if value is None:
        return ""
    locale, width = DATE_FORMATS[letter_language(language)]
    return babel_format_date(value, format=width, locale=locale)


def file_stem(language: str) -> str:
    """The first word of an attached letter's file name (kirje, brev, letter)."""
    return str(translations(letter_language(language)).pgettext("file name", "letter"))
