"""Finding the deployable files (BPMN, DMN, forms) a command or the embedded default is given."""

from __future__ import annotations

from pathlib import Path

RESOURCE_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".form")


FORMS_DIR = "forms"  # Camunda Forms kept beside the diagrams that link them: bpmn/forms/*.form


def collect_dir(path: Path) -> dict[str, bytes]:
    """The deployable files directly in a directory and its forms/ folder (empty when it does not exist)."""
    if not path.is_dir():
        return {}
    files = {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.name.endswith(RESOURCE_SUFFIXES)}
    forms = path / FORMS_DIR
    if forms.is_dir():
        files.update({f"{FORMS_DIR}/{p.name}": p.read_bytes() for p in sorted(forms.iterdir())
                      if p.name.endswith(".form")})
    return files


def collect(paths: tuple[str, ...] | list[str]) -> dict[str, bytes]:
    """The deployable files under the paths; FileNotFoundError names a missing path."""
    files: dict[str, bytes] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.update(collect_dir(path))
        elif path.exists():
            files[path.name] = path.read_bytes()
        else:
            raise FileNotFoundError(f"{raw}: no such file or directory")
    return files
