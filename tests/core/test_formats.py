"""One date and time format across pages: the active language's DATE_FORMAT and DATETIME_FORMAT."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone, translation

import vigil
from vigil.core.audit import audit
from vigil.core.models import AuditEntry

SOURCE = Path(vigil.__file__).resolve().parent
# The language's own formats (Django's locale formats), or ISO for machines.
ALLOWED = {
    "'c'",
    '"DATE_FORMAT"',
    '"DATETIME_FORMAT"',
    '"SHORT_DATETIME_FORMAT"',
    '"YEAR_MONTH_FORMAT"',
}


def test_templates_format_dates_only_with_the_languages_own_formats():
    used = {}
    for template in SOURCE.glob("*/templates/**/*.html"):
        for argument in re.findall(r"\|date:(\"[^\"]*\"|'[^']*')", template.read_text()):
            used.setdefault(argument, []).append(template.name)
        assert "|time:" not in template.read_text(), template
    assert set(used) <= ALLOWED, {key: value for key, value in used.items() if key not in ALLOWED}


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_the_audit_trail_shows_the_languages_date_and_time(
    client_for, auditor, head, body, language
):
    audit(actor=head, action="core.body.update_settings", obj=body)
    entry = AuditEntry.objects.latest("pk")
    client = client_for(auditor)
    client.post(reverse("set_language"), {"language": language})
    html = client.get(reverse("audit")).content.decode()
    with translation.override(language):
        expected = formats.date_format(timezone.localtime(entry.created_at), "DATETIME_FORMAT")
    # The requests switched this thread's language; later tests expect the default.
    translation.activate(settings.LANGUAGE_CODE)
    assert f">{expected}</time>" in html
