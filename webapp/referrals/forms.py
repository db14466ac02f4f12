"""The staff referral form and the public self-referral form, and the words for what casework finds wrong.

The forms carry the fields and the CSRF token; the checking is casework's (`casework.referral_intake.check`),
so the same rules hold whichever way a referral arrives. Each problem is worded here, in the reader's language.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, StringField, TextAreaField

from casework.referral import LabourMarketStatus, ReferralSource
from casework.referral_intake import (
    MAX_CONTACT,
    MAX_EMAIL,
    MAX_NAME,
    MAX_ORGANISATION,
    MAX_PHONE,
    MAX_REASON,
    MAX_SELF_REASON,
    ExistingService,
    FieldProblem,
    Problem,
    Referral,
    Urgency,
    referral_from,
)

LANGUAGES = [("fi", "suomi"), ("sv", "svenska"), ("en", "English")]  # each in its own language

SOURCES = [(ReferralSource.EMPLOYMENT_SERVICES.value, _l("Employment services")),
           (ReferralSource.SOCIAL_WORK.value, _l("Social work")),
           (ReferralSource.HEALTH_STATION.value, _l("Health station")),
           (ReferralSource.KELA.value, _l("Kela")),
           (ReferralSource.SELF.value, _l("The client themselves")),
           (ReferralSource.OTHER.value, _l("Other"))]
SERVICES = [(ExistingService.EMPLOYMENT_SERVICES.value, _l("Employment services")),
            (ExistingService.KELA.value, _l("Kela")),
            (ExistingService.SOCIAL_WORK.value, _l("Social work")),
            (ExistingService.HEALTH_CARE.value, _l("Health care")),
            (ExistingService.NGO.value, _l("An NGO (association or foundation)")),
            (ExistingService.CRIMINAL_SANCTIONS.value, _l("Criminal Sanctions Agency"))]
STATUSES = [("", _l("Not known")),
            (LabourMarketStatus.JOB_SEEKER.value, _l("Registered job seeker")),
            (LabourMarketStatus.NOT_JOB_SEEKER.value, _l("Not a registered job seeker"))]
URGENCIES = [(Urgency.NORMAL.value, _l("Normal")), (Urgency.URGENT.value, _l("Urgent"))]


class ChoiceField(StringField):
    """One value of a fixed list (radios or a select); the template gets the list as `options`, casework checks it."""

    def __init__(self, label: Any, options: list[tuple[str, Any]], default: str = "", **kwargs: Any) -> None:
        super().__init__(label, default=default, **kwargs)
        self.options = options


class ChoicesField(Field):
    """Any number of values of a fixed list (checkboxes)."""

    def __init__(self, label: Any, options: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.options = options

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = [str(v) for v in valuelist]

    def _value(self) -> str:
        return ""


LIMITS = {"client_name": MAX_NAME, "phone": MAX_PHONE, "email": MAX_EMAIL, "referrer_organisation": MAX_ORGANISATION,
          "referrer_contact": MAX_CONTACT}


class StaffReferralForm(FlaskForm):
    """A referrer's referral, typed in by a coordinator, case manager or team lead (DOMAIN.md's referral form)."""

    client_name = StringField(_l("Client's name"), render_kw={"autocomplete": "off", "maxlength": MAX_NAME})
    identity_code = StringField(_l("Personal identity code"),
                                render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": 20})
    phone = StringField(_l("Phone"), render_kw={"autocomplete": "off", "type": "tel", "maxlength": MAX_PHONE})
    email = StringField(_l("Email"), render_kw={"autocomplete": "off", "type": "email", "maxlength": MAX_EMAIL})
    language = ChoiceField(_l("Language of service"), LANGUAGES, default="fi")
    municipality = StringField(_l("Municipality"), render_kw={"autocomplete": "off", "maxlength": 100})
    source = ChoiceField(_l("Who refers the client"), [("", _l("Choose…")), *SOURCES])
    referrer_organisation = StringField(_l("Referring organisation"), render_kw={"maxlength": MAX_ORGANISATION})
    referrer_contact = StringField(_l("Referrer's name and contact"), render_kw={"maxlength": MAX_CONTACT})
    reason = TextAreaField(_l("Reason for the referral"), render_kw={"rows": 5, "maxlength": MAX_REASON})
    existing_services = ChoicesField(_l("What the client already has"), SERVICES)
    labour_market_status = ChoiceField(_l("Labour market status"), STATUSES)
    unemployed_months = StringField(_l("Months unemployed"),
                                    render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 3})
    urgency = ChoiceField(_l("Urgency"), URGENCIES, default=Urgency.NORMAL.value)
    consent = BooleanField(_l("The client agrees to this referral"))

    def referral(self) -> Referral:
        return referral_from({f.name: f.data for f in self if f.name != "csrf_token"})


class SelfReferralForm(FlaskForm):
    """A person asking for help themselves: short, in plain language, with a honeypot and a signed start time."""

    client_name = StringField(_l("Your name"), render_kw={"autocomplete": "name", "maxlength": MAX_NAME})
    identity_code = StringField(_l("Your personal identity code"),
                                render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": 20})
    phone = StringField(_l("Phone number"), render_kw={"autocomplete": "tel", "type": "tel", "maxlength": MAX_PHONE})
    email = StringField(_l("Email address"),
                        render_kw={"autocomplete": "email", "type": "email", "maxlength": MAX_EMAIL})
    language = ChoiceField(_l("Which language do you want us to use?"), LANGUAGES, default="fi")
    municipality = StringField(_l("Your home municipality"),
                               render_kw={"autocomplete": "address-level2", "maxlength": 100})
    reason = TextAreaField(_l("What kind of help do you want?"),
                           render_kw={"rows": 5, "maxlength": MAX_SELF_REASON})
    consent = BooleanField(_l("I agree that my information is used to handle my request"))
    website = StringField(_l("Leave this empty"), render_kw={"autocomplete": "off", "tabindex": "-1"})  # honeypot
    started = HiddenField()  # when the form was handed out, signed (views.py)

    def referral(self) -> Referral:
        return referral_from({f.name: f.data for f in self if f.name not in ("csrf_token", "website", "started")},
                             self_referral=True)


def message(problem: FieldProblem, self_referral: bool) -> Any:
    """What to tell the person about one field; a self-referral speaks to the client ("you")."""
    kind, name = problem.problem, problem.field
    if kind is Problem.TOO_LONG:
        return _l("This is too long: at most %(limit)d characters.", limit=problem.limit or LIMITS.get(name, 0))
    if kind is Problem.IDENTITY_CODE_LENGTH:
        return _l("A personal identity code is 11 characters, for example 010190-900P.")
    if kind is Problem.IDENTITY_CODE_CHECK:
        return _l("The last character of the identity code does not match. Check the code for typing errors.")
    if kind is Problem.NO_CONTACT:
        return _l("Give a phone number or an email address, so that we can contact you.")
    if kind is Problem.NO_CONSENT:
        return (_l("Tick the box to agree, so that we can handle your request.") if self_referral
                else _l("The client must agree to the referral before it can be sent."))
    if kind is Problem.REQUIRED:
        return _required(name, self_referral)
    return _invalid(name)


def _required(name: str, self_referral: bool) -> Any:
    if self_referral:
        return {"client_name": _l("Enter your name."),
                "identity_code": _l("Enter your personal identity code."),
                "municipality": _l("Enter your home municipality."),
                "reason": _l("Tell us briefly what kind of help you want."),
                "language": _l("Choose a language.")}.get(name, _l("Fill in this field."))
    return {"client_name": _l("Enter the client's name."),
            "identity_code": _l("Enter the client's personal identity code."),
            "municipality": _l("Enter the client's municipality."),
            "reason": _l("Enter the reason for the referral."),
            "language": _l("Choose a language."),
            "referrer_organisation": _l("Enter the referring organisation."),
            "source": _l("Choose who refers the client."),
            "urgency": _l("Choose the urgency.")}.get(name, _l("Fill in this field."))


def _invalid(name: str) -> Any:
    return {"identity_code": _l("This is not a valid personal identity code. Check the date of birth and the "
                                "century sign."),
            "phone": _l("Enter a phone number with digits, for example 040 123 4567."),
            "email": _l("Enter an email address like name@example.fi."),
            "municipality": _l("Enter the name of a municipality in letters."),
            "unemployed_months": _l("Enter the months as a whole number from 0 to 600.")}.get(
        name, _l("Choose one of the options."))


def show_problems(form: FlaskForm, problems: list[FieldProblem], self_referral: bool) -> None:
    """Each field's first problem next to the field (and so in the error summary)."""
    for problem in problems:
        target = getattr(form, problem.field, None)
        if target is not None and not target.errors:
            target.errors = [message(problem, self_referral)]
