"""Camunda Forms (.form files linked by camunda:formRef): checked at deploy, submissions validated on the server."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.camunda.parser.parser import parse_resources
from engine.camunda_forms import parse_form_file, validate_form_submission
from engine.errors import FormError, ValidationFailed
from engine.runtime import Engine
from polku.resources import collect_dir
from tests.diagrams import process
from tests.engine.camunda.compat_support import linear, refused_at

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "camunda-corpus"


def form(*fields: dict[str, Any], form_id: str = "review") -> dict[str, Any]:
    """A form as Camunda Modeler 5 writes it."""
    return {"components": list(fields), "type": "default", "id": form_id, "executionPlatform": "Camunda Platform",
            "executionPlatformVersion": "7.22.0", "exporter": {"name": "Camunda Modeler", "version": "5.31.0"},
            "schemaVersion": 18}


def text(key: str, **more: Any) -> dict[str, Any]:
    return {"label": key.title(), "type": "textfield", "id": f"Field_{key}", "key": key, **more}


def data(schema: dict[str, Any]) -> bytes:
    return json.dumps(schema).encode()


def errors_of(schema: dict[str, Any], raw: dict[str, Any], current: dict[str, Any] | None = None,
              today: date | None = None) -> dict[str, str]:
    with pytest.raises(FormError) as info:
        validate_form_submission(schema, raw, current, today)
    return info.value.errors


def task_diagram(key: str, attrs: str) -> bytes:
    return process(key, linear(f'<bpmn:userTask id="review" name="Review" {attrs}/>', ids=("review",)))


# -- the forms Polku ships and the corpus's -------------------------------------------------------------


def test_the_plan_form_is_a_camunda_modeler_form_and_bpmn_deploys_with_it() -> None:
    schema = parse_form_file("plan.form", (ROOT / "bpmn" / "forms" / "plan.form").read_bytes())
    assert schema["id"] == "plan" and schema["exporter"]["name"] == "Camunda Modeler"
    resources = collect_dir(ROOT / "bpmn")
    assert "forms/plan.form" in resources
    parsed = parse_resources(resources)
    assert "plan" in parsed.forms
    iisalmi = parse_resources(collect_dir(ROOT / "bpmn" / "sites" / "iisalmi"))
    assert "plan" in iisalmi.forms


CORPUS_FORMS = sorted(CORPUS.rglob("*.form")) if CORPUS.is_dir() else []


@pytest.mark.parametrize("path", CORPUS_FORMS or [None], ids=[p.name for p in CORPUS_FORMS] or ["none"])
def test_every_form_of_the_corpus_parses(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"no .form files in {CORPUS}")
    schema = parse_form_file(path.name, path.read_bytes())
    assert schema["components"] is not None


# -- refused at deploy, naming the field -------------------------------------------------------------------


@pytest.mark.parametrize(("field", "reason"), [
    ({"type": "filepicker", "id": "Field_upload", "key": "upload"}, "field type 'filepicker' is not supported"),
    ({"type": "signature", "id": "Field_sign", "key": "sign"}, "unknown field type 'signature'"),
    ({"type": "textfield", "id": "Field_nokey"}, "key None must be a variable name"),
    ({"type": "textfield", "id": "Field_badkey", "key": "a b"}, "key 'a b' must be a variable name"),
    (text("code", validate={"pattern": "([a-z"}), "validate.pattern is not a regular expression"),
    (text("code", validate={"minLength": "three"}), "validate.minLength must be a whole number"),
    (text("code", conditional={"hide": "=status ==== 1"}), "conditional.hide '=status ==== 1' cannot be evaluated"),
    ({"type": "select", "id": "Field_choice", "key": "choice"}, "has no options"),
    ({"type": "dynamiclist", "id": "List_rows", "components": []}, "a dynamic list needs a path"),
    ({"type": "datetime", "id": "Field_when", "key": "when", "subtype": "week"}, "datetime subtype 'week'"),
    ({"type": "select", "id": "Field_size", "key": "size", "values": [{"label": "S", "value": "s"}],
      "defaultValue": "xl"}, "defaultValue 'xl' must be one of the options"),
])
def test_a_field_polku_cannot_show_or_check_fails_the_deployment_by_its_id(field: dict[str, Any],
                                                                            reason: str) -> None:
    refusals = refused_at({"review.bpmn": task_diagram("p", 'camunda:formRef="review"'),
                           "review.form": data(form(field))})
    assert reason in refusals[field["id"]]


def test_two_fields_bound_to_one_key_and_every_problem_at_once() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_form_file("bad.form", data(form(text("name"), {**text("name"), "id": "Field_again"},
                                              {"type": "iframe", "id": "Frame_1"})))
    lines = [p.line() for p in info.value.problems]
    assert "bad.form: Field_again: key 'name' is used by another field of the same form part" in lines
    assert any(line.startswith("bad.form: Frame_1: field type 'iframe' is not supported") for line in lines)


def test_a_file_that_is_not_a_form_is_refused() -> None:
    assert "not a form-js JSON form" in refused_at({"x.form": b"<xml/>"})["-"]
    assert "the form has no id" in refused_at({"x.form": b'{"components": []}'})["-"]


def test_form_ref_bound_to_the_deployment_must_find_its_form_there() -> None:
    bound = 'camunda:formRef="missing" camunda:formRefBinding="deployment"'
    refusals = refused_at({"p.bpmn": task_diagram("p", bound)})
    assert refusals["review"].startswith("form 'missing' is not in this deployment")
    refusals = refused_at({"p.bpmn": task_diagram("p", 'camunda:formRef="r" camunda:formRefBinding="newest"')})
    assert "formRefBinding 'newest' is not one of latest, deployment, version" in refusals["review"]
    parsed = parse_resources({"p.bpmn": task_diagram("p", 'camunda:formRef="elsewhere"')})
    assert [w.element_id for w in parsed.warnings if "elsewhere" in w.reason] == ["review"]


# -- submissions ----------------------------------------------------------------------------------------------


def test_text_rules_required_lengths_pattern_email_and_phone() -> None:
    schema = form(text("name", validate={"required": True, "minLength": 2, "maxLength": 5}),
                  text("code", validate={"pattern": "^[A-Z]{3}$", "patternErrorMessage": "three capitals"}),
                  text("email", validate={"validationType": "email"}),
                  text("phone", validate={"validationType": "phone"}))
    assert errors_of(schema, {"name": " ", "code": "ab", "email": "anna@", "phone": "040 123"}) == {
        "name": "is required", "code": "three capitals", "email": "must be an email address",
        "phone": "must be an international phone number (e.g. +358401234567)"}
    assert errors_of(schema, {"name": "Annamaria"})["name"] == "must be at most 5 characters"
    assert validate_form_submission(schema, {"name": "Anna", "code": "ABC", "email": "anna@example.fi",
                                             "phone": "+358 40 123 4567"}) == {
        "name": "Anna", "code": "ABC", "email": "anna@example.fi", "phone": "+358 40 123 4567"}


def test_numbers_with_decimal_comma_digits_steps_and_bounds() -> None:
    schema = form({"type": "number", "id": "F_hours", "key": "hours", "decimalDigits": 1, "increment": "0.5",
                   "validate": {"min": 0, "max": 40}},
                  {"type": "number", "id": "F_count", "key": "count", "decimalDigits": 0},
                  {"type": "number", "id": "F_exact", "key": "exact", "serializeToString": True})
    assert validate_form_submission(schema, {"hours": "7,5", "count": "3", "exact": "0.10"}) == {
        "hours": 7.5, "count": 3, "exact": "0.1"}
    assert errors_of(schema, {"hours": "7.25", "count": "2.5", "exact": "many"}) == {
        "hours": "must have at most 1 decimals", "count": "must be a whole number", "exact": "must be a number"}
    assert errors_of(schema, {"hours": "41"})["hours"] == "must be at most 40"
    assert errors_of(schema, {"hours": "1.2", "count": "-1"}) == {"hours": "must be a multiple of 0.5"}


def test_dates_times_and_no_passed_dates() -> None:
    schema = form({"type": "datetime", "id": "F_day", "key": "day", "subtype": "date", "disallowPassedDates": True},
                  {"type": "datetime", "id": "F_at", "key": "at", "subtype": "time"},
                  {"type": "datetime", "id": "F_when", "key": "when", "subtype": "datetime"})
    today = date(2026, 3, 1)
    assert validate_form_submission(schema, {"day": "2.3.2026", "at": "9.30", "when": "2026-03-02T14:05"},
                                    today=today) == {"day": "2026-03-02", "at": "09:30", "when": "2026-03-02T14:05"}
    assert errors_of(schema, {"day": "2026-02-30", "at": "25:00", "when": "2026-03-02"}, today=today) == {
        "day": "must be a date (YYYY-MM-DD)", "at": "must be a time (HH:MM)", "when": "must be a date and a time"}
    assert errors_of(schema, {"day": "2026-02-28"}, today=today) == {"day": "must not be in the past"}


def test_choices_are_checked_against_their_options() -> None:
    values = [{"label": "Yes", "value": "yes"}, {"label": "No", "value": "no"}]
    schema = form({"type": "checkbox", "id": "F_ok", "key": "ok", "validate": {"required": True}},
                  {"type": "radio", "id": "F_r", "key": "answer", "values": values},
                  {"type": "select", "id": "F_s", "key": "choice", "values": values},
                  {"type": "checklist", "id": "F_c", "key": "many", "values": values, "validate": {"required": True}},
                  {"type": "taglist", "id": "F_t", "key": "tags", "valuesKey": "knownTags"})
    assert errors_of(schema, {"ok": False, "answer": "maybe", "choice": "no", "many": [], "tags": []}) == {
        "ok": "is required", "answer": "must be one of the options", "many": "is required"}
    assert validate_form_submission(schema, {"ok": "true", "answer": "yes", "choice": "", "many": ["no", "yes", "no"],
                                             "tags": ["a"]}, {"knownTags": ["a", "b"]}) == {
        "ok": True, "answer": "yes", "choice": None, "many": ["no", "yes"], "tags": ["a"]}
    assert errors_of(schema, {"ok": True, "many": "yes", "tags": ["c"]}, {"knownTags": ["a", "b"]}) == {
        "tags": "must be one of the options"}


def test_groups_with_a_path_nest_their_fields_and_keep_the_rest() -> None:
    schema = form({"type": "group", "id": "G_address", "label": "Address", "path": "address", "components": [
        text("street", validate={"required": True}), text("city.name")]})
    current = {"address": {"street": "Old", "postcode": "00100"}}
    assert validate_form_submission(schema, {"address": {"street": "Uusi 1", "city": {"name": "Turku"}}},
                                    current) == {"address": {"street": "Uusi 1", "postcode": "00100",
                                                             "city": {"name": "Turku"}}}
    assert errors_of(schema, {"address": {"street": ""}}) == {"address.street": "is required"}


SERVICES = {"type": "dynamiclist", "id": "List_services", "path": "services", "isRepeating": True,
            "allowAddRemove": True, "components": [
                {"type": "select", "id": "F_type", "key": "type", "validate": {"required": True},
                 "values": [{"label": "Work trial", "value": "work_trial"}, {"label": "Other", "value": "other"}]},
                text("provider", validate={"required": True}),
                {"type": "datetime", "id": "F_due", "key": "startDue", "subtype": "date",
                 "validate": {"required": True}},
                text("otherName", validate={"required": True}, conditional={"hide": '=this.type != "other"'}),
                {"type": "checkbox", "id": "F_consent", "key": "consent"}]}


def test_dynamic_lists_are_rows_of_objects_checked_row_by_row() -> None:
    schema = form(SERVICES)
    rows = [{"type": "work_trial", "provider": "Työllisyyspalvelut", "startDue": "2026-02-01", "consent": "true",
             "otherName": "ignored while hidden"},
            {"type": "other", "provider": "", "startDue": "1.2.2026"},
            {"type": "work_trial", "provider": "", "startDue": "", "consent": "false"}]  # wholly empty: no row
    assert errors_of(schema, {"services": rows}) == {"services[1].provider": "is required",
                                                     "services[1].otherName": "is required"}
    rows[1].update(provider="Järjestö ry", otherName="Vertaistuki")
    assert validate_form_submission(schema, {"services": rows}) == {"services": [
        {"type": "work_trial", "provider": "Työllisyyspalvelut", "startDue": "2026-02-01", "consent": True},
        {"type": "other", "provider": "Järjestö ry", "startDue": "2026-02-01", "otherName": "Vertaistuki",
         "consent": False}]}
    assert errors_of(schema, {"services": "two services"}) == {"services": "must be a list of rows"}


def test_hidden_fields_are_neither_checked_nor_stored() -> None:
    schema = form({"type": "checkbox", "id": "F_has", "key": "hasWorker"},
                  text("worker", validate={"required": True}, conditional={"hide": "=hasWorker != true"}),
                  {"type": "group", "id": "G", "label": "More", "conditional": {"hide": "=level < 2"},
                   "components": [text("detail", validate={"required": True})]})
    assert validate_form_submission(schema, {"hasWorker": "false", "worker": "typed before", "level": 1}) == {
        "hasWorker": False, "level": 1}
    assert errors_of(schema, {"hasWorker": "true", "level": 2}) == {"worker": "is required", "detail": "is required"}


def test_read_only_and_left_out_fields_keep_their_values_and_other_keys_pass_through() -> None:
    schema = form(text("name", readonly=True), text("note", validate={"required": True}),
                  {"type": "select", "id": "F_i", "key": "interval", "defaultValue": "P3M",
                   "values": [{"label": "3", "value": "P3M"}, {"label": "6", "value": "P6M"}]})
    assert validate_form_submission(schema, {"name": "changed", "extra": 1}, {"name": "Anna", "note": "kept"}) == {
        "extra": 1, "interval": "P3M"}


# -- the engine runs them -------------------------------------------------------------------------------------


def test_a_form_ref_task_is_validated_against_its_deployed_form(engine: Engine) -> None:
    engine.deploy({"p.bpmn": task_diagram("p", 'camunda:formRef="review" camunda:formRefBinding="deployment"'),
                   "forms/review.form": data(form(text("name", validate={"required": True}), SERVICES))})
    case_id = engine.start("p")
    (task,) = engine.open_tasks(case_id)
    assert task.form is not None and (task.form["form_ref"], task.form["form_ref_binding"]) == ("review", "deployment")
    assert (engine.task_form_schema(task.id) or {})["id"] == "review"
    with pytest.raises(FormError) as info:
        engine.complete_task(task.id, {"services": [{"type": "other", "provider": "X", "startDue": "2026-13-01"}]})
    assert info.value.errors == {"name": "is required", "services[0].startDue": "must be a date (YYYY-MM-DD)",
                                 "services[0].otherName": "is required"}
    assert [t.id for t in engine.open_tasks(case_id)] == [task.id]  # nothing stored, the task still open
    engine.complete_task(task.id, {"name": "Anna", "services": [
        {"type": "work_trial", "provider": "TE", "startDue": "5.2.2026", "consent": "true"}]})
    variables = engine.case(case_id)["variables"]
    assert variables["name"] == "Anna"
    assert variables["services"] == [
        {"type": "work_trial", "provider": "TE", "startDue": "2026-02-05", "consent": True}]


def test_latest_and_version_bindings_find_forms_of_other_deployments(engine: Engine) -> None:
    engine.deploy({"v1.form": data(form(text("a", validate={"required": True}), form_id="shared"))}
                  | {"holder.bpmn": task_diagram("holder", "")})
    engine.deploy({"v2.form": data(form(text("b", validate={"required": True}), form_id="shared"))}
                  | {"holder.bpmn": task_diagram("holder", "")})
    engine.deploy({"latest.bpmn": task_diagram("latest", 'camunda:formRef="shared"'),
                   "first.bpmn": process("first", linear(
                       '<bpmn:userTask id="review" camunda:formRef="shared" camunda:formRefBinding="version" '
                       'camunda:formRefVersion="1"/>', ids=("review",)))})
    (latest,) = engine.open_tasks(engine.start("latest"))
    (first,) = engine.open_tasks(engine.start("first"))
    assert (engine.task_form_schema(latest.id) or {})["components"][0]["key"] == "b"
    assert (engine.task_form_schema(first.id) or {})["components"][0]["key"] == "a"
    with pytest.raises(FormError) as info:
        engine.complete_task(first.id, {})
    assert info.value.errors == {"a": "is required"}


def test_a_task_without_a_camunda_form_has_no_schema(engine: Engine) -> None:
    engine.deploy({"p.bpmn": task_diagram("p", "")})
    (task,) = engine.open_tasks(engine.start("p"))
    assert engine.task_form_schema(task.id) is None
