"""Written letters to the client (PDF), stored with the case and then mailed or printed.

The pilots failed where clients did not know their case manager, so every letter names the person
responsible for the client and how to reach them, in the client's own language (fi/sv/en, Finnish
when unknown). The PDF is kept as sent: it is the record of what the client was told.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.case_manager import Assignment, assignment_history, current_case_manager, record_client_informed
from casework.client import Client, get_client
from casework.client_case import ClientCase, get_case
from casework.errors import Refused, get_or_raise
from casework.models import UtcDateTime, enum_type
from casework.plan import CLIENT, ItemKind, PlanItem, PlanVersion, current_plan
from casework.users import StaffUser
from casework.values import as_date, text
from engine.models import Base

TEMPLATES = Path(__file__).resolve().parent / "templates" / "letters"
LANGUAGES = ("fi", "sv", "en")
FALLBACK_LANGUAGE = "fi"
LOCAL_TIME = ZoneInfo("Europe/Helsinki")  # the letter's date is the client's calendar day, not UTC's


class LetterKind(enum.Enum):
    GUIDANCE_TO_BASIC_SERVICES = "guidance_to_basic_services"
    CASE_MANAGER_NAMED = "case_manager_named"
    CASE_MANAGER_CHANGED = "case_manager_changed"
    CLOSURE_SUMMARY = "closure_summary"


class Delivery(enum.Enum):
    EMAIL = "email"  # queued in the outbox with the PDF attached
    PRINT = "print"  # staff print it and post or hand it over (printed_at says when)


# Letters that tell the client who their case manager is: sending one fulfils "the client has been told".
NAMES_CASE_MANAGER = frozenset({LetterKind.CASE_MANAGER_NAMED, LetterKind.CASE_MANAGER_CHANGED})


class Letter(Base):
    __tablename__ = "letter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id"), index=True)
    kind: Mapped[LetterKind] = mapped_column(enum_type(LetterKind))
    language: Mapped[str] = mapped_column(String(5))
    key: Mapped[str] = mapped_column(String(200), unique=True)  # one letter per cause, e.g. "job:<id>"
    title: Mapped[str] = mapped_column(String(300))
    # The case manager the letter names (user id), so delivering it later informs the client only if still current.
    case_manager_id: Mapped[str | None] = mapped_column(String(200))
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # lists of letters do not load the documents
    delivery: Mapped[Delivery] = mapped_column(enum_type(Delivery))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    printed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --- texts that come from enums; the sentences around them live in the templates -------------------------------

TITLES: dict[str, dict[LetterKind, str]] = {
    "fi": {LetterKind.GUIDANCE_TO_BASIC_SERVICES: "Ohjaus palveluihin",
           LetterKind.CASE_MANAGER_NAMED: "Asiakasvastaavasi työkyvyn tuessa",
           LetterKind.CASE_MANAGER_CHANGED: "Asiakasvastaavasi vaihtuu",
           LetterKind.CLOSURE_SUMMARY: "Yhteenveto: asiakkuutesi työkyvyn tuessa päättyy"},
    "sv": {LetterKind.GUIDANCE_TO_BASIC_SERVICES: "Hänvisning till service",
           LetterKind.CASE_MANAGER_NAMED: "Din klientansvariga inom stödet för arbetsförmåga",
           LetterKind.CASE_MANAGER_CHANGED: "Du får en ny klientansvarig",
           LetterKind.CLOSURE_SUMMARY: "Sammanfattning: din klientrelation inom stödet för arbetsförmåga avslutas"},
    "en": {LetterKind.GUIDANCE_TO_BASIC_SERVICES: "Guidance to services",
           LetterKind.CASE_MANAGER_NAMED: "Your case manager in work ability support",
           LetterKind.CASE_MANAGER_CHANGED: "Your case manager is changing",
           LetterKind.CLOSURE_SUMMARY: "Summary: your work ability support is ending"},
}

SENDER: dict[str, tuple[str, str]] = {  # service, unit
    "fi": ("Työkyvyn tuki", "Sosiaali- ja terveyskeskus"),
    "sv": ("Stöd för arbetsförmåga", "Social- och hälsocentralen"),
    "en": ("Work ability support", "Health and social services centre"),
}

# The values of basicServicesDestination in bpmn/work-ability-support.bpmn, as the client should read them.
DESTINATIONS: dict[str, dict[str, str]] = {
    "fi": {"typ": "Työllistymistä edistävä monialainen yhteispalvelu (TYP)",
           "disability_services": "Vammaispalvelut",
           "unemployed_nurse": "Työttömien terveydenhoitaja",
           "employment_services": "Työllisyyspalvelut",
           "own_worker": "Omatyöntekijäsi"},
    "sv": {"typ": "Sektorsövergripande samservice som främjar sysselsättningen (TYP)",
           "disability_services": "Handikappservice",
           "unemployed_nurse": "Hälsovårdaren för arbetslösa",
           "employment_services": "Sysselsättningstjänsterna",
           "own_worker": "Din egen kontaktperson"},
    "en": {"typ": "Multisectoral joint service promoting employment (TYP)",
           "disability_services": "Disability services",
           "unemployed_nurse": "The nurse for unemployed people",
           "employment_services": "Employment services",
           "own_worker": "Your designated key worker"},
}

# Closure reasons: the form's values (closureReason) and casework's ClosureReason values.
CLOSURE_REASONS: dict[str, dict[str, str]] = {
    "fi": {"employment": "Olet työllistynyt.",
           "education": "Aloitat opiskelun.",
           "vocational_rehabilitation": "Siirryt Kelan ammatilliseen kuntoutukseen.",
           "pension_process": "Eläkeasiasi käsittely jatkuu.",
           "employment_services_only": "Jatkat vain työllisyyspalvelujen asiakkaana.",
           "employment_services": "Jatkat vain työllisyyspalvelujen asiakkaana.",
           "moved_away": "Olet muuttanut toiselle paikkakunnalle.",
           "not_reached": "Emme ole tavoittaneet sinua.",
           "client_ended": "Päätit itse lopettaa asiakkuuden.",
           "basic_services": "Sinut on ohjattu peruspalveluihin.",
           "own_worker": "Omatyöntekijäsi jatkaa kanssasi."},
    "sv": {"employment": "Du har fått arbete.",
           "education": "Du börjar studera.",
           "vocational_rehabilitation": "Du går vidare till yrkesinriktad rehabilitering via FPA.",
           "pension_process": "Ditt pensionsärende fortsätter.",
           "employment_services_only": "Du fortsätter enbart som kund hos sysselsättningstjänsterna.",
           "employment_services": "Du fortsätter enbart som kund hos sysselsättningstjänsterna.",
           "moved_away": "Du har flyttat till en annan ort.",
           "not_reached": "Vi har inte nått dig.",
           "client_ended": "Du har själv valt att avsluta klientrelationen.",
           "basic_services": "Du har hänvisats till bastjänsterna.",
           "own_worker": "Din egen kontaktperson fortsätter med dig."},
    "en": {"employment": "You have found work.",
           "education": "You are starting studies.",
           "vocational_rehabilitation": "You are moving on to vocational rehabilitation by Kela.",
           "pension_process": "Your pension matter continues.",
           "employment_services_only": "You continue with employment services only.",
           "employment_services": "You continue with employment services only.",
           "moved_away": "You have moved to another area.",
           "not_reached": "We have not been able to reach you.",
           "client_ended": "You decided to end the support yourself.",
           "basic_services": "You have been guided to basic services.",
           "own_worker": "Your designated key worker continues with you."},
}

SERVICE_TYPES: dict[str, dict[str, str]] = {
    "fi": {"health_check": "Terveystarkastus", "work_ability_assessment": "Työkyvyn arviointi",
           "vocational_rehabilitation": "Ammatillinen kuntoutus (Kela)",
           "rehabilitative_work_activity": "Kuntouttava työtoiminta", "work_trial": "Työkokeilu",
           "job_coach": "Työvalmennus", "supported_employment": "Tuettu työllistyminen",
           "mental_health": "Mielenterveyspalvelut", "substance_abuse": "Päihdepalvelut",
           "social_work": "Sosiaalityö", "education": "Koulutus", "debt_counselling": "Talous- ja velkaneuvonta",
           "ngo_activity": "Järjestön toiminta", "other": "Muu palvelu"},
    "sv": {"health_check": "Hälsoundersökning", "work_ability_assessment": "Bedömning av arbetsförmågan",
           "vocational_rehabilitation": "Yrkesinriktad rehabilitering (FPA)",
           "rehabilitative_work_activity": "Arbetsverksamhet i rehabiliteringssyfte", "work_trial": "Arbetsprövning",
           "job_coach": "Jobbcoachning", "supported_employment": "Stödd sysselsättning",
           "mental_health": "Mentalvårdstjänster", "substance_abuse": "Missbrukarvård",
           "social_work": "Socialt arbete", "education": "Utbildning",
           "debt_counselling": "Ekonomi- och skuldrådgivning", "ngo_activity": "Verksamhet inom en organisation",
           "other": "Annan tjänst"},
    "en": {"health_check": "Health check", "work_ability_assessment": "Work ability assessment",
           "vocational_rehabilitation": "Vocational rehabilitation (Kela)",
           "rehabilitative_work_activity": "Rehabilitative work activity", "work_trial": "Work trial",
           "job_coach": "Job coaching", "supported_employment": "Supported employment",
           "mental_health": "Mental health services", "substance_abuse": "Substance abuse services",
           "social_work": "Social work", "education": "Education",
           "debt_counselling": "Financial and debt counselling", "ngo_activity": "NGO activity",
           "other": "Other service"},
}

MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
FILE_STEM = {"fi": "kirje", "sv": "brev", "en": "letter"}


def letter_language(value: object) -> str:
    """The client's language if a letter can be written in it, else Finnish."""
    code = getattr(value, "value", value)
    code = str(code or "").strip().lower()
    return code if code in LANGUAGES else FALLBACK_LANGUAGE


def format_date(value: date | datetime | None, language: str) -> str:
    """Dates as the client reads them: 5.1.2026 in Finnish and Swedish, 5 January 2026 in English."""
    if value is None:
        return ""
    if language == "en":
        return f"{value.day} {MONTHS_EN[value.month - 1]} {value.year}"
    return f"{value.day}.{value.month}.{value.year}"


# --- what the letter says ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    """A staff member as the client needs to see them: who and how to reach them."""

    user_id: str | None
    name: str
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class PlanLine:
    text: str
    due: date | None
    responsible: str | None = None
    service: str | None = None
    provider: str | None = None


@dataclass(frozen=True)
class PlanSummary:
    version: int
    main_goals: list[PlanLine]
    goals: list[PlanLine]
    services: list[PlanLine]
    client_tasks: list[PlanLine]
    follow_up_months: int
    next_meeting: date | None


def _person(session: Session, assignment: Assignment | None, user_id: str | None = None) -> Person | None:
    user_id = assignment.user_id if assignment is not None else user_id
    if user_id is None:
        return None
    user = session.get(StaffUser, user_id)
    if user is None:
        if assignment is None:
            raise Refused(f"no staff user {user_id!r} to name in the letter")
        return Person(assignment.user_id, assignment.user_name, None, None)
    return Person(user.id, user.name, user.phone, user.email)


def _plan(plan: PlanVersion | None, language: str) -> PlanSummary | None:
    if plan is None:
        return None
    services = SERVICE_TYPES[language]

    def line(item: PlanItem) -> PlanLine:
        kind = item.service_type.value if item.service_type is not None else None
        return PlanLine(text=item.text, due=item.due,
                        responsible=item.responsible if item.responsible != CLIENT else None,
                        service=services.get(kind, kind) if kind else None, provider=item.provider_organisation)

    by_kind: dict[ItemKind, list[PlanLine]] = {kind: [] for kind in ItemKind}
    for item in plan.items:
        by_kind[item.kind].append(line(item))
    return PlanSummary(version=plan.version, main_goals=by_kind[ItemKind.MAIN_GOAL], goals=by_kind[ItemKind.GOAL],
                       services=by_kind[ItemKind.SERVICE], client_tasks=by_kind[ItemKind.CLIENT_TASK],
                       follow_up_months=plan.follow_up_months, next_meeting=plan.next_meeting)


def _previous_case_manager(session: Session, case_id: str, current: Assignment,
                           named: str | None) -> Person | None:
    """The case manager before the current one: the history knows it even when the process does not."""
    if named and named != current.user_id:
        return _person(session, None, named)
    earlier = [a for a in assignment_history(session, case_id) if a.id != current.id and a.to_at is not None]
    return _person(session, earlier[-1]) if earlier else None


def _context(session: Session, record: ClientCase, client: Client, kind: LetterKind, language: str, at: datetime,
             details: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The template's variables and the user id of the case manager the letter names."""
    case_id = record.case_id
    current = current_case_manager(session, case_id)
    named = text(details.get("case_manager"))
    context: dict[str, Any] = {"kind": kind.value, "plan": None, "case_manager": None, "previous": None,
                               "destination": None, "destination_code": None, "reason": None,
                               "next_responsible": None, "next_contact": None, "summary": None,
                               "meeting_date": as_date(details.get("meeting_date"))}
    if kind in NAMES_CASE_MANAGER:
        if current is None:
            raise Refused("the case has no current case manager: record the assignment before the letter")
        if named and named != current.user_id:
            raise Refused(f"the process names {named!r} but the current case manager is {current.user_id!r}")
        context["case_manager"] = _person(session, current)
        context["plan"] = _plan(current_plan(session, case_id), language)
        if kind is LetterKind.CASE_MANAGER_CHANGED:
            context["previous"] = _previous_case_manager(session, case_id, current,
                                                         text(details.get("previous_case_manager")))
    elif kind is LetterKind.CLOSURE_SUMMARY:
        # The summary letter goes before the closure is recorded, so the process's values come first.
        history = assignment_history(session, case_id)
        latest = current or (history[-1] if history else None)
        context["case_manager"] = _person(session, latest)
        reason = text(details.get("closure_reason")) or (record.closure_reason.value if record.closure_reason
                                                           else None)
        context["reason"] = CLOSURE_REASONS[language].get(reason or "") if reason else None
        context["next_responsible"] = text(details.get("next_responsible")) or record.next_responsible
        context["next_contact"] = text(details.get("next_contact")) or record.next_contact
        context["summary"] = text(details.get("summary")) or record.summary
        context["meeting_date"] = context["meeting_date"] or record.handover_meeting_on
    else:  # guidance to basic services: no case manager; whoever the coordinator names is the contact
        code = text(details.get("destination"))
        if code is None:
            raise Refused("the guidance letter needs the destination (basicServicesDestination)")
        context["destination_code"] = code
        context["destination"] = DESTINATIONS[language].get(code, code)
        context["next_contact"] = text(details.get("next_contact"))
        context["case_manager"] = _person(session, None, named) if named else None
    today = at.astimezone(LOCAL_TIME).date()
    meeting = context["meeting_date"]
    context["meeting_past"] = meeting is not None and meeting <= today
    service, unit = SENDER[language]
    context.update(lang=language, title=TITLES[language][kind], client_name=client.name, service=service,
                   unit=unit, municipality=client.municipality, date_text=format_date(today, language))
    manager = context["case_manager"]
    return context, (manager.user_id if manager is not None and kind in NAMES_CASE_MANAGER else None)


@cache
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(kind: LetterKind, language: str, context: dict[str, Any]) -> str:
    """The letter as HTML, from `<language>/<kind>.html` (Finnish when the language has no template)."""
    language = letter_language(language)
    env = _templates()
    name = f"{language}/{kind.value}.html"
    return env.get_template(name).render(**context, d=lambda value: format_date(value, language))


def render_pdf(html: str) -> bytes:
    """HTML to PDF; WeasyPrint is imported here because importing it takes a while."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


def write_letter(session: Session, *, case_id: str, kind: LetterKind, key: str, at: datetime,
                 details: dict[str, Any] | None = None) -> Letter:
    """Writes the case's letter of `kind` once per `key`; a second call returns the first letter unchanged.

    `details` carries what casework does not hold yet when the process writes the letter: `destination`
    (guidance), `case_manager` / `previous_case_manager` (user ids, checked against the history),
    `closure_reason`, `next_responsible`, `next_contact`, `summary`, `meeting_date`.
    """
    existing = session.scalar(select(Letter).where(Letter.key == key))
    if existing is not None:
        if existing.case_id != case_id:
            raise Refused(f"the letter key {key!r} belongs to another case")
        return existing
    record = get_case(session, case_id)
    client = get_client(session, record.client_id)
    language = letter_language(client.language)
    context, case_manager_id = _context(session, record, client, kind, language, at, dict(details or {}))
    pdf = render_pdf(render_html(kind, language, context))
    letter = Letter(case_id=case_id, client_id=client.id, kind=kind, language=language, key=key,
                    title=context["title"], case_manager_id=case_manager_id, pdf=pdf, delivery=Delivery.PRINT,
                    created_at=at)
    session.add(letter)
    session.flush()
    return letter


def letter_filename(letter: Letter) -> str:
    """The attachment's file name, e.g. kirje-2026-01-05-12.pdf."""
    return f"{FILE_STEM.get(letter.language, 'kirje')}-{letter.created_at:%Y-%m-%d}-{letter.id}.pdf"


def letters_of_case(session: Session, case_id: str) -> list[Letter]:
    """The case's letters, oldest first (without loading the PDFs)."""
    return list(session.scalars(select(Letter).where(Letter.case_id == case_id)
                                .order_by(Letter.created_at, Letter.id)))


def letters_to_print(session: Session) -> list[Letter]:
    """Letters for clients without email that nobody has printed yet, oldest first."""
    return list(session.scalars(select(Letter).where(Letter.delivery == Delivery.PRINT, Letter.printed_at.is_(None))
                                .order_by(Letter.created_at, Letter.id)))


def get_letter(session: Session, letter_id: int) -> Letter:
    return get_or_raise(session, Letter, letter_id, "letter")


def _client_informed(session: Session, letter: Letter, at: datetime) -> None:
    """A delivered case manager letter records that the client was told, if it still names the current one."""
    if letter.kind not in NAMES_CASE_MANAGER or letter.case_manager_id is None:
        return
    current = current_case_manager(session, letter.case_id)
    if current is not None and current.user_id == letter.case_manager_id and current.client_informed_at is None:
        record_client_informed(session, letter.case_id, at)


def mark_emailed(session: Session, letter_id: int, at: datetime) -> Letter:
    """The letter went to the outbox for the client's email address."""
    letter = get_letter(session, letter_id)
    letter.delivery = Delivery.EMAIL
    _client_informed(session, letter, at)
    return letter


def mark_printed(session: Session, letter_id: int, at: datetime) -> Letter:
    """Staff printed the letter for posting or handing over; the first print counts."""
    letter = get_letter(session, letter_id)
    if letter.printed_at is None:
        letter.printed_at = at
    _client_informed(session, letter, at)
    return letter

