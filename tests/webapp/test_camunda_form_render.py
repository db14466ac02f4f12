"""Camunda Forms rendered on the server: every field type, posted back as a browser would, hidden parts, rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from casework.network import PartnerKind, add_partner
from engine.camunda_forms import INPUT_TYPES, components, validate_form_submission
from engine.errors import FormError
from engine.runtime import Engine
from webapp import create_app
from webapp.tasks.camunda_form import (
    form_values_from_request,
    html_id,
    render_camunda_form,
    render_camunda_form_errors_summary,
    wants_row_change,
)

ROOT = Path(__file__).resolve().parents[2]
PLAN = json.loads((ROOT / "bpmn" / "forms" / "plan.form").read_text(encoding="utf-8"))
YES_NO = [{"label": "Kyllä", "value": "yes"}, {"label": "Ei", "value": "no"}]
EVERY_TYPE = {"id": "every", "type": "default", "schemaVersion": 18, "components": [
    {"type": "text", "id": "Text_1", "text": "# Otsikko\n\nOhje {{ name }}"},
    {"type": "textfield", "id": "F1", "key": "name", "label": "Nimi", "description": "Koko nimi",
     "validate": {"required": True, "maxLength": 50}},
    {"type": "textarea", "id": "F2", "key": "notes", "label": "Muistiinpanot"},
    {"type": "number", "id": "F3", "key": "hours", "label": "Tunnit", "decimalDigits": 1},
    {"type": "datetime", "id": "F4", "key": "day", "label": "Päivä", "subtype": "date"},
    {"type": "datetime", "id": "F5", "key": "at", "label": "Kellonaika", "subtype": "time"},
    {"type": "datetime", "id": "F6", "key": "when", "label": "Ajankohta", "subtype": "datetime"},
    {"type": "checkbox", "id": "F7", "key": "agreed", "label": "Sovittu"},
    {"type": "checklist", "id": "F8", "key": "many", "label": "Monta", "values": YES_NO},
    {"type": "radio", "id": "F9", "key": "answer", "label": "Vastaus", "values": YES_NO},
    {"type": "select", "id": "F10", "key": "choice", "label": "Valinta", "values": YES_NO},
    {"type": "taglist", "id": "F11", "key": "tags", "label": "Tunnisteet", "values": YES_NO},
    {"type": "select", "id": "F12", "key": "partner", "label": "Kumppani", "valuesKey": "partners"},
    {"type": "spacer", "id": "S1"}, {"type": "separator", "id": "S2"},
    {"type": "group", "id": "G1", "label": "Osoite", "path": "address", "components": [
        {"type": "textfield", "id": "F13", "key": "street", "label": "Katu"}]},
    {"type": "dynamiclist", "id": "L1", "label": "Rivit", "path": "rows", "isRepeating": True, "allowAddRemove": True,
     "components": [{"type": "textfield", "id": "F14", "key": "what", "label": "Mitä"},
                    {"type": "checkbox", "id": "F15", "key": "done", "label": "Tehty"}]},
    {"type": "button", "id": "B1", "label": "Lähetä", "action": "submit"},
]}
VALUES: dict[str, Any] = {
    "name": "Anna <b>Aalto</b>", "notes": "rivi 1\nrivi 2", "hours": 7.5, "day": "2026-02-03", "at": "09:30",
    "when": "2026-02-03T14:05", "agreed": True, "many": ["yes", "no"], "answer": "no", "choice": "yes",
    "tags": ["yes"], "partner": "7", "address": {"street": "Katu 1"},
    "rows": [{"what": "eka", "done": True}, {"what": "toka", "done": False}]}


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[Flask]:
    """A page in English whose process texts have no translations: labels are the form's own."""
    app = create_app({"ENGINE": engine, "TESTING": True, "BPMN_I18N_DIR": str(tmp_path)})
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield app


def page(markup: Markup) -> lxml.html.FormElement:
    return lxml.html.fromstring(f'<form method="post">{markup}</form>')


def post(markup: Markup, typed: dict[str, str] | None = None, press: tuple[str, str] | None = None
         ) -> MultiDict[str, str]:
    """What a browser sends for the rendered form, after the person types `typed` (input name -> text)."""
    form = page(markup)
    for name, value in (typed or {}).items():
        form.inputs[name].value = value
    sent = MultiDict(form.form_values())
    if press:
        sent.add(*press)
    return sent


def test_every_field_type_renders_labelled_and_comes_back_as_it_was(app: Flask) -> None:
    shown = {**VALUES, "partners": [{"label": "Terveysasema", "value": "7"}]}
    markup = render_camunda_form(EVERY_TYPE, shown, {})
    html = page(markup)
    for component in (c for c in _all(EVERY_TYPE) if c.get("type") in INPUT_TYPES and c["type"] not in
                      ("radio", "checklist", "taglist")):
        assert html.xpath(f".//label[@for='{html_id(_name(component))}']"), component["id"]
    legends = [legend.text_content() for legend in html.xpath(".//fieldset/legend")]
    assert {"Monta", "Vastaus", "Tunnisteet", "Osoite", "Rivit", "Rivit, row 1"} <= set(legends)
    assert html.xpath(".//input[@name='rows[1].what']")[0].value == "toka"
    assert html.get_element_by_id("cf-name").get("aria-describedby") == "cf-name-hint"
    assert "<b>" not in str(markup) and "Anna &lt;b&gt;Aalto&lt;/b&gt;" in str(markup)
    assert html.xpath(".//h2")[0].text == "Otsikko" and "Ohje Anna <b>Aalto</b>" in html.text_content()
    assert not html.xpath(".//button[not(@name)]")  # the form's own submit button is the page's
    raw = form_values_from_request(EVERY_TYPE, post(markup))
    assert validate_form_submission(EVERY_TYPE, raw, {"partners": shown["partners"]}) == VALUES


def test_typed_input_is_converted_and_an_error_lands_next_to_its_field(app: Flask) -> None:
    markup = render_camunda_form(EVERY_TYPE, {}, {})
    sent = post(markup, {"name": "", "hours": "7,25", "rows[0].what": "kolmas"})
    raw = form_values_from_request(EVERY_TYPE, sent)
    assert raw["rows"] == [{"what": "kolmas", "done": False}] and raw["agreed"] is False and raw["many"] == []
    with pytest.raises(FormError) as info:
        validate_form_submission(EVERY_TYPE, raw)
    errors = info.value.errors
    assert errors == {"name": "is required", "hours": "must have at most 1 decimals"}
    again = page(render_camunda_form(EVERY_TYPE, raw, errors))
    assert again.get_element_by_id("cf-name-error").text == "This is required"
    assert again.get_element_by_id("cf-name").get("aria-invalid") == "true"
    assert again.get_element_by_id("cf-hours").value == "7,25"  # the input is kept as typed
    summary = lxml.html.fromstring(str(render_camunda_form_errors_summary(errors, EVERY_TYPE)))
    links = {a.get("href"): a.text_content() for a in summary.xpath(".//a")}
    assert links == {"#cf-name": "Nimi: This is required", "#cf-hours": "Tunnit: Enter at most 1 decimals"}
    assert all(again.get_element_by_id(href[1:], None) is not None for href in links)


def test_add_and_remove_rows_without_javascript_keep_what_was_typed(app: Flask) -> None:
    markup = render_camunda_form(EVERY_TYPE, VALUES, {})
    sent = post(markup, {"name": "Uusi nimi", "rows[0].what": "muutettu"}, press=("_add", "rows"))
    assert wants_row_change(sent)
    raw = form_values_from_request(EVERY_TYPE, sent)
    assert raw["name"] == "Uusi nimi" and raw["rows"] == [{"what": "muutettu", "done": True},
                                                          {"what": "toka", "done": False}, {}]
    grown = render_camunda_form(EVERY_TYPE, raw, {})
    assert len(page(grown).xpath(".//fieldset[contains(@class, 'polku-cf-row')]")) == 3
    removed = form_values_from_request(EVERY_TYPE, post(grown, press=("_remove", "rows[0]")))
    assert [row["what"] for row in removed["rows"]] == ["toka", ""]
    assert not wants_row_change(post(grown))
    buttons = [b.text_content() for b in page(grown).xpath(".//button")]
    assert "Remove Rivit, row 2" in buttons and "Add a row Rivit" in buttons


def test_hidden_fields_are_hidden_on_the_server_and_shown_when_their_condition_changes(app: Flask) -> None:
    schema = {"id": "h", "type": "default", "components": [
        {"type": "checkbox", "id": "F1", "key": "hasWorker", "label": "Omatyöntekijä"},
        {"type": "textfield", "id": "F2", "key": "worker", "label": "Kuka", "validate": {"required": True},
         "conditional": {"hide": "=hasWorker != true"}},
        {"type": "dynamiclist", "id": "L", "path": "rows", "label": "Rivit", "isRepeating": True, "components": [
            {"type": "select", "id": "F3", "key": "kind", "label": "Laji", "values": YES_NO},
            {"type": "textfield", "id": "F4", "key": "why", "label": "Miksi",
             "conditional": {"hide": '=this.kind = "yes"'}}]}]}
    html = page(render_camunda_form(schema, {"hasWorker": False, "rows": [{"kind": "yes"}, {"kind": "no"}]}, {}))
    assert html.get_element_by_id("cf-worker").getparent().getparent().getparent().get("hidden") is not None
    assert html.get_element_by_id("cf-rows-0--why").xpath("ancestor::div[@data-hide]")[0].get("hidden") is not None
    assert html.get_element_by_id("cf-rows-1--why").xpath("ancestor::div[@data-hide]")[0].get("hidden") is None
    shown = page(render_camunda_form(schema, {"hasWorker": True}, {}))
    assert shown.get_element_by_id("cf-worker").xpath("ancestor::div[@data-hide]")[0].get("hidden") is None
    raw = form_values_from_request(schema, post(render_camunda_form(schema, {"hasWorker": False}, {})))
    assert validate_form_submission(schema, raw) == {"hasWorker": False, "rows": []}


def test_read_only_fields_are_shown_but_not_sent(app: Flask) -> None:
    schema = {"id": "r", "type": "default", "components": [
        {"type": "textfield", "id": "F1", "key": "name", "label": "Nimi", "readonly": True},
        {"type": "checkbox", "id": "F2", "key": "ok", "label": "OK", "disabled": True}]}
    html = page(render_camunda_form(schema, {"name": "Anna", "ok": True}, {}))
    assert html.get_element_by_id("cf-name").get("readonly") is not None
    assert html.get_element_by_id("cf-ok").get("disabled") is not None
    assert form_values_from_request(schema, post(render_camunda_form(schema, {"name": "Anna", "ok": True}, {}))) \
        == {"name": "Anna"}


def test_the_plan_form_speaks_english_and_swedish(engine: Engine) -> None:
    app = create_app({"ENGINE": engine, "TESTING": True})
    for language, label, option in (("en", "Provider (organisation)", "Work trial"),
                                    ("sv", "Tjänsteleverantör (organisation)", "Arbetsprövning"),
                                    ("fi", "Palveluntuottaja (organisaatio)", "Työkokeilu")):
        with app.test_request_context(headers={"Accept-Language": language}):
            html = page(render_camunda_form(PLAN, {}, {}))
            assert html.xpath(".//label[@for='cf-services-0--provider']")[0].text_content().startswith(label)
            assert option in [o.text for o in html.xpath(".//*[@id='cf-services-0--serviceType']/option")]


@pytest.mark.parametrize("language", ["en", "sv"])
def test_every_plan_form_field_and_option_has_a_label(language: str) -> None:
    texts = json.loads((ROOT / "bpmn" / "i18n" / f"{language}.json").read_text(encoding="utf-8"))
    missing = []
    for component, template in _templates(PLAN):
        if component.get("label") and template not in texts:
            missing.append(template)
        if component.get("description") and f"{template}.description" not in texts:
            missing.append(f"{template}.description")
        missing += [f"{template}.{v['value']}" for v in component.get("values") or []
                    if f"{template}.{v['value']}" not in texts]
    assert not missing, f"no {language} label for {missing}"


def _all(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for component in components(container):
        yield component
        yield from _all(component)


def _name(component: dict[str, Any]) -> str:
    return {"street": "address.street", "what": "rows[0].what", "done": "rows[0].done"}.get(component["key"],
                                                                                          component["key"])


def _templates(container: dict[str, Any], prefix: str = "") -> Iterator[tuple[dict[str, Any], str]]:
    for component in components(container):
        own = component.get("key") or component.get("path") or ""
        template = f"{prefix}.{own}" if prefix and own else (own or prefix)
        if own:
            yield component, template
        yield from _templates(component, template)


def test_a_post_without_the_row_counts_still_finds_its_rows() -> None:
    sent = MultiDict({"name": "Anna", "rows[1].what": "toka", "rows[0].what": "eka"})
    assert form_values_from_request(EVERY_TYPE, sent)["rows"] == [{"what": "eka"}, {"what": "toka"}]


def test_the_plan_form_offers_the_registered_network_partners(app: Flask, engine: Engine) -> None:
    with engine.db.transaction() as session:
        partner = add_partner(session, "Kuvitteellinen työpaja ry", PartnerKind.NGO, unit="Turku").id
    html = page(render_camunda_form(PLAN, {}, {}))
    offered = {o.get("value"): o.text for o in html.xpath(".//*[@id='cf-services-0--partnerId']/option")}
    assert offered == {"": "Choose", str(partner): "Kuvitteellinen työpaja ry, Turku"}
