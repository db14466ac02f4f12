"""Camunda generated forms: what a modeler's file turns into and how submissions are checked."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from lxml import etree

from engine.errors import DiagramError, FormError
from engine.forms import Form, FormField, defaults, parse_form, validate_submission

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ACTIVITI = "http://activiti.org/bpmn"


def element(fields: str, ns: str = CAMUNDA, tag: str = "userTask", attrs: str = ""):
    """A userTask/startEvent with the given camunda:formField children."""
    xml = f"""<bpmn:definitions xmlns:bpmn="{BPMN}" xmlns:camunda="{ns}">
      <bpmn:process id="p"><bpmn:{tag} id="Task_1" {attrs}>
        <bpmn:extensionElements><camunda:formData>{fields}</camunda:formData>
        </bpmn:extensionElements>
      </bpmn:{tag}></bpmn:process></bpmn:definitions>"""
    return etree.fromstring(xml.encode()).find(f".//{{{BPMN}}}{tag}")


def form_of(fields: str, **kw) -> Form:
    return parse_form(element(fields, **kw), file="f.bpmn")


def field(type_: str, constraints: str = "", extra: str = "", attrs: str = "") -> str:
    body = (
        f"<camunda:validation>{constraints}</camunda:validation>" if constraints else ""
    )
    return f'<camunda:formField id="x" label="X" type="{type_}" {attrs}>{body}{extra}</camunda:formField>'


def c(name: str, config: str | None = None) -> str:
    cfg = f' config="{config}"' if config is not None else ""
    return f'<camunda:constraint name="{name}"{cfg} />'


def errors_of(form: Form, data: dict, current: dict | None = None) -> dict[str, str]:
    with pytest.raises(FormError) as exc:
        validate_submission(form, data, current)
    return exc.value.errors


AMOUNT = """
<camunda:formField id="amount" label="Amount (€)" type="long" defaultValue="5">
  <camunda:validation><camunda:constraint name="required" />
    <camunda:constraint name="min" config="1" /><camunda:constraint name="max" config="100" />
  </camunda:validation>
  <camunda:properties><camunda:property id="unit" value="EUR" /></camunda:properties>
</camunda:formField>
<camunda:formField id="colour" label="Colour" type="enum" defaultValue="r">
  <camunda:value id="r" name="Red" /><camunda:value id="g" name="Green" />
</camunda:formField>
<camunda:formField id="note" type="string" />
"""


# ---- parsing -----------------------------------------------------------------


def test_parse_reads_fields_labels_constraints_options_and_properties():
    form = form_of(AMOUNT, attrs='camunda:formKey="embedded:app:forms/a.html"')
    amount, colour, note = form.fields
    assert amount == FormField(
        id="amount",
        label="Amount (€)",
        type="long",
        default="5",
        required=True,
        readonly=False,
        constraints={"required": None, "min": "1", "max": "100"},
        options=[],
        properties={"unit": "EUR"},
    )
    assert colour.options == [("r", "Red"), ("g", "Green")]
    assert note.label is None and note.type == "string" and not note.required
    assert form.form_key == "embedded:app:forms/a.html" and form.form_ref is None


def test_start_event_with_form_ref_and_no_fields():
    el = etree.fromstring(
        f'<bpmn:startEvent xmlns:bpmn="{BPMN}" xmlns:camunda="{CAMUNDA}" id="Start" '
        'camunda:formRef="invoiceForm" />'
    )
    form = parse_form(el)
    assert (
        form.fields == () and form.form_ref == "invoiceForm" and form.form_key is None
    )


def test_legacy_activiti_namespace_is_read_like_camunda():
    form = form_of(AMOUNT, ns=ACTIVITI, tag="startEvent", attrs='camunda:formKey="k"')
    assert [f.id for f in form.fields] == ["amount", "colour", "note"]
    assert form.fields[0].constraints == {"required": None, "min": "1", "max": "100"}
    assert form.fields[1].options == [("r", "Red"), ("g", "Green")]
    assert form.form_key == "k"
    assert validate_submission(form, {"amount": "7"})["amount"] == 7


def test_enum_value_name_defaults_to_id_and_custom_type_is_kept():
    form = form_of(
        field("enum", extra='<camunda:value id="a" />').replace('id="x"', 'id="e"')
        + field("myType").replace('id="x"', 'id="m"')
    )
    assert form.fields[0].options == [("a", "a")]
    assert form.fields[1].type == "myType" and form.fields[1].base_type == "string"
    assert validate_submission(form, {"e": "a", "m": "anything"}) == {
        "e": "a",
        "m": "anything",
    }


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ('<camunda:formField label="No id" type="string" />', "form field without id"),
        (field("string", c("unique")), "unknown constraint 'unique'"),
        (
            field("long", attrs='defaultValue="five"'),
            "defaultValue 'five' must be a whole number",
        ),
        (field("boolean", attrs='defaultValue="maybe"'), "must be true or false"),
        (field("date", attrs='defaultValue="2026-13-01"'), "must be a date"),
        (
            field(
                "enum",
                extra='<camunda:value id="a" name="A" />',
                attrs='defaultValue="b"',
            ),
            "must be one of: a",
        ),
        (
            field("long", c("min", "one")),
            "constraint 'min' needs a numeric config, not 'one'",
        ),
        (field("long", c("max")), "constraint 'max' needs a numeric config"),
        (field("date", c("max", "soon")), "constraint 'max' needs a date config"),
        (field("string", c("maxlength", "ten")), "needs a whole number config"),
        (field("boolean", c("min", "1")), "applies only to long and date fields"),
        (field("long", c("minlength", "1")), "applies only to text fields"),
        (field("string", c("pattern", "[a-")), "not a valid regex"),
        (
            field("long", c("min", "10"), attrs='defaultValue="5"'),
            "must be at least 10",
        ),
        (field("string", c("min", "1") + c("min", "2")), "constraint 'min'"),
        (field("string") + field("long"), "form field 'x' is defined twice"),
    ],
)
def test_broken_form_definitions_fail_deployment(fields, reason):
    with pytest.raises(DiagramError) as exc:
        form_of(fields)
    assert reason in exc.value.reason
    assert exc.value.element_id == "Task_1" and exc.value.file == "f.bpmn"


def test_expression_default_is_not_checked_nor_filled():
    form = form_of(field("long", attrs='defaultValue="${initialAmount}"'))
    assert form.fields[0].default_is_expression
    assert defaults(form) == {}
    assert validate_submission(form, {}) == {}


def test_json_round_trip_is_exact_and_serialisable():
    form = form_of(AMOUNT, attrs='camunda:formKey="k" camunda:formRef="r"')
    data = json.loads(json.dumps(form.to_json()))
    assert data["fields"][1]["options"] == [
        {"id": "r", "name": "Red"},
        {"id": "g", "name": "Green"},
    ]
    assert Form.from_json(data) == form


# ---- submissions -------------------------------------------------------------


def test_typed_values_defaults_and_pass_through():
    form = form_of(AMOUNT)
    assert validate_submission(form, {"amount": "42", "note": "hi", "extra": [1]}) == {
        "amount": 42,
        "colour": "r",  # default filled
        "note": "hi",
        "extra": [1],  # not a form field: passes through unchanged
    }
    assert defaults(form) == {"amount": 5, "colour": "r"}


def test_every_invalid_field_is_reported_at_once():
    form = form_of(AMOUNT)
    assert errors_of(form, {"amount": "abc", "colour": "blue"}) == {
        "amount": "must be a whole number",
        "colour": "must be one of: r, g",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("7", 7), (" -3 ", -3), (12, 12), (4.0, 4), ("+8", 8)],
)
def test_long_accepts_whole_numbers(raw, expected):
    form = form_of(field("long"))
    assert validate_submission(form, {"x": raw}) == {"x": expected}


@pytest.mark.parametrize("raw", ["1.5", "1e3", 2.5, True, "ten", [1]])
def test_long_rejects_anything_else(raw):
    assert errors_of(form_of(field("long")), {"x": raw}) == {
        "x": "must be a whole number"
    }


def test_long_out_of_64_bit_range():
    assert errors_of(form_of(field("long")), {"x": str(2**63)}) == {
        "x": "is too large a number"
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True), ("true", True), ("TRUE", True), ("on", True), ("1", True), (1, True),
        (False, False), ("false", False), ("0", False), (0, False), ("off", False),
    ],
)  # fmt: skip
def test_boolean_values(raw, expected):
    assert validate_submission(form_of(field("boolean")), {"x": raw}) == {"x": expected}


def test_boolean_rejects_other_text():
    assert errors_of(form_of(field("boolean")), {"x": "perhaps"}) == {
        "x": "must be true or false"
    }


def test_required_boolean_accepts_false():
    form = form_of(field("boolean", c("required")))
    assert validate_submission(form, {"x": False}) == {"x": False}


@pytest.mark.parametrize(
    "raw",
    ["01/12/2026", "1/12/2026", "2026-12-01", "2026-12-01T10:30:00Z", date(2026, 12, 1),
     datetime(2026, 12, 1, 8, 0)],
)  # fmt: skip
def test_date_formats_are_stored_as_iso_dates(raw):
    assert validate_submission(form_of(field("date")), {"x": raw}) == {
        "x": "2026-12-01"
    }


@pytest.mark.parametrize(
    "raw", ["12/31/2026", "31/02/2026", "tomorrow", "2026-1-1", 20261201]
)
def test_date_rejects_non_dates(raw):
    assert errors_of(form_of(field("date")), {"x": raw}) == {
        "x": "must be a date (dd/MM/yyyy or YYYY-MM-DD)"
    }


def test_date_default_in_camunda_pattern():
    form = form_of(field("date", attrs='defaultValue="24/12/2026"'))
    assert defaults(form) == {"x": "2026-12-24"}


def test_date_min_and_max_bounds():
    form = form_of(field("date", c("min", "01/01/2026") + c("max", "2026-12-31")))
    assert validate_submission(form, {"x": "2026-01-01"}) == {"x": "2026-01-01"}
    assert errors_of(form, {"x": "31/12/2025"}) == {
        "x": "must be on or after 01/01/2026"
    }
    assert errors_of(form, {"x": "2027-01-01"}) == {
        "x": "must be on or before 2026-12-31"
    }


def test_enum_stores_option_id_and_lists_choices():
    form = form_of(
        field(
            "enum",
            extra='<camunda:value id="a" name="Alpha" /><camunda:value id="b" name="B" />',
        )
    )
    assert validate_submission(form, {"x": "b"}) == {"x": "b"}
    assert errors_of(form, {"x": "Alpha"}) == {"x": "must be one of: a, b"}


def test_string_keeps_text_as_written():
    form = form_of(field("string"))
    assert validate_submission(form, {"x": "  Hello  "}) == {"x": "  Hello  "}
    assert validate_submission(form, {"x": 12}) == {"x": "12"}
    assert errors_of(form, {"x": {"a": 1}}) == {"x": "must be text"}


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_required_field_must_have_a_value(raw):
    form = form_of(field("string", c("required")))
    assert errors_of(form, {"x": raw}) == {"x": "is required"}
    assert errors_of(form, {}) == {"x": "is required"}


def test_optional_field_submitted_empty_is_stored_as_none():
    form = form_of(field("long", attrs='defaultValue="3"'))
    assert validate_submission(form, {"x": ""}) == {"x": None}


def test_field_left_out_keeps_current_value_instead_of_default():
    form = form_of(field("long", c("required"), attrs='defaultValue="3"'))
    assert validate_submission(form, {}, current={"x": 9}) == {}
    assert validate_submission(form, {}) == {"x": 3}


def test_length_constraints():
    form = form_of(field("string", c("minlength", "2") + c("maxlength", "10")))
    assert validate_submission(form, {"x": "ab"}) == {"x": "ab"}
    assert errors_of(form, {"x": "a"}) == {"x": "must be at least 2 characters"}
    assert errors_of(form, {"x": "a" * 11}) == {"x": "must be at most 10 characters"}
    single = form_of(field("string", c("maxlength", "1")))
    assert errors_of(single, {"x": "ab"}) == {"x": "must be at most 1 character"}


def test_numeric_min_and_max():
    form = form_of(AMOUNT)
    assert validate_submission(form, {"amount": 1})["amount"] == 1
    assert validate_submission(form, {"amount": "100"})["amount"] == 100
    assert errors_of(form, {"amount": 0}) == {"amount": "must be at least 1"}
    assert errors_of(form, {"amount": "101"}) == {"amount": "must be at most 100"}


def test_pattern_constraint_on_text():
    form = form_of(field("string", c("pattern", "[A-Z]{3}-[0-9]+")))
    assert validate_submission(form, {"x": "ABC-12"}) == {"x": "ABC-12"}
    assert errors_of(form, {"x": "abc-12"}) == {
        "x": "must match the pattern [A-Z]{3}-[0-9]+"
    }


def test_readonly_field_ignores_submission_and_keeps_current_value():
    form = form_of(
        field("long", c("readonly") + c("required"), attrs='defaultValue="5"')
    )
    assert validate_submission(form, {"x": "999"}, current={"x": 7}) == {}
    assert validate_submission(form, {"x": "999"}) == {"x": 5}
    assert validate_submission(form, {"x": "not a number"}) == {"x": 5}
    assert form.fields[0].readonly


def test_form_error_message_names_fields():
    form = form_of(AMOUNT)
    with pytest.raises(FormError) as exc:
        validate_submission(form, {"amount": None})
    assert str(exc.value) == "amount: is required"


def test_enum_without_values_deploys_like_camunda_but_accepts_no_submission() -> None:
    form = form_of(field("enum"))
    assert form.fields[0].options == []
    assert "has no values to choose from" in errors_of(form, {"x": "anything"})["x"]
