"""Apps plug into core through registries: core imports no app, every audit action has a label
in every language, and the shared pages are filled from what the apps registered."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.utils import translation

import vigil
from tests.conftest import TEST_ACTIONS
from vigil.core.access import registered_models
from vigil.core.audit import registered_actions
from vigil.core.registry import api_url_includes, nav_entries, page_url_includes

SRC = Path(vigil.__file__).parent
CORE = SRC / "core"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _vigil_apps() -> set[str]:
    return {path.parent.name for path in SRC.glob("*/apps.py")} - {"core"}


def test_the_apps_are_found():
    assert "places" in _vigil_apps()


def test_core_imports_no_app():
    """Adding an app must never need an edit of core: core knows apps only by registries."""
    offenders = []
    for path in CORE.rglob("*.py"):
        for module in _imported_modules(path):
            parts = module.split(".")
            if parts[0] == "vigil" and len(parts) > 1 and parts[1] in _vigil_apps():
                offenders.append(f"{path.relative_to(SRC)} imports {module}")
    assert offenders == []


def test_core_templates_name_no_app_url():
    offenders = []
    for path in (CORE / "templates").rglob("*.html"):
        for app in _vigil_apps():
            if re.search(rf"\{{% url ['\"]{app}:", path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(SRC)} links to {app}")
    assert offenders == []


def test_places_plugs_in_through_the_registries(persona):
    from vigil.core.models import Role
    from vigil.places.models import Place

    assert Place in registered_models()
    assert "vigil.places.urls" in [entry.module for entry in page_url_includes()]
    assert "vigil.places.api_urls" in [entry.module for entry in api_url_includes()]
    assert "places" in [entry.key for entry in nav_entries(persona(Role.MONITOR))]
    assert "places" not in [entry.key for entry in nav_entries(persona(Role.AUTHORITY_FOCAL_POINT))]


def test_a_test_only_app_plugged_in_without_editing_core():
    from tests.testapp.models import Note

    assert apps.get_app_config("testapp")
    assert Note in registered_models()
    assert "testapp.note.create" in registered_actions()


# ---------- Audit action labels ----------


def _app_actions() -> dict[str, object]:
    return {
        action: label
        for action, label in registered_actions().items()
        if action not in TEST_ACTIONS and not action.startswith(("tests.", "testapp."))
    }


def test_every_action_is_named_app_model_verb():
    for action in _app_actions():
        app = action.split(".")[0]
        assert app in {*_vigil_apps(), "core"}, action


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_action_label_is_translated(language):
    missing = []
    for action, label in _app_actions().items():
        # A page test that asked for French leaves it active in this thread (LocaleMiddleware
        # activates a language and never resets it), so name English explicitly.
        with translation.override("en"):
            english = str(label)
        with translation.override(language):
            translated = str(label)
        if translated == english:
            missing.append(f"{action}: {english}")
    assert missing == []


def test_every_action_written_in_the_code_has_a_label():
    """Every `action="app.model.verb"` literal under src/ is registered (a write of an
    unregistered action also fails at run time, in build_entry)."""
    written = set()
    for path in SRC.rglob("*.py"):
        written.update(
            re.findall(r"action=\s*\"([a-z_]+\.[a-z_]+\.[a-z_]+)\"", path.read_text("utf-8"))
        )
    assert written
    assert sorted(written - set(registered_actions())) == []


def test_an_unregistered_action_is_refused(body, head):
    from vigil.core.audit import audit

    with pytest.raises(ValueError, match="has no label"):
        audit(actor=head, action="places.place.teleport", obj=body)


def test_a_bare_action_name_cannot_be_registered():
    from vigil.core.audit import register_action_labels

    with pytest.raises(ValueError, match=r"app\.model\.verb"):
        register_action_labels({"delete": "deleted"})
