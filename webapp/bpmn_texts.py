"""The process's own words (element names, form labels, enum values) in the reader's language.

A diagram is drawn in Finnish: its names and labels are the Finnish text. `bpmn/i18n/{sv,en}.json` hold
the Swedish and English ones keyed by element id, form field id, and `field.value` for enum values
(`<element>.<field>` and `<element>.<field>.<value>` may say it differently for one step when two steps
share a field id). A key missing in the file falls back to the diagram's text.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from flask import current_app, has_app_context
from flask_babel import get_locale

log = logging.getLogger("polku.webapp")

DIAGRAM_LANGUAGE = "fi"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "bpmn" / "i18n"


@functools.cache
def _texts(directory: str, language: str) -> dict[str, str]:
    path = Path(directory) / f"{language}.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:  # a broken file must not take the task pages down
        log.error("cannot read %s: %s", path, err)
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def language() -> str:
    """The current page's language (Flask-Babel's locale), Finnish outside a request."""
    return str(get_locale() or DIAGRAM_LANGUAGE) if has_app_context() else DIAGRAM_LANGUAGE


def texts(lang: str | None = None) -> dict[str, str]:
    """Every label of `lang` (default: the page's language); empty for the diagram's own language."""
    lang = lang or language()
    if lang == DIAGRAM_LANGUAGE:
        return {}
    directory = (current_app.config.get("BPMN_I18N_DIR") if has_app_context() else None) or DEFAULT_DIR
    return _texts(str(directory), lang)


def label(key: str, default: str | None, *more_specific: str) -> str:
    """The text for `key` in the page's language; `more_specific` keys are tried first; else `default`
    (the diagram's text), else the key itself."""
    found = texts()
    for candidate in (*more_specific, key):
        if candidate in found:
            return found[candidate]
    return default if default else key


def element_name(element_id: str, default: str | None) -> str:
    return label(element_id, default)


def field_label(element_id: str, field_id: str, default: str | None) -> str:
    return label(field_id, default, f"{element_id}.{field_id}")


def enum_label(element_id: str, field_id: str, value: str, default: str | None) -> str:
    return label(f"{field_id}.{value}", default, f"{element_id}.{field_id}.{value}")
