"""A minimal app that exists only in the tests: it plugs into core as a real app would, with a
need-to-know record type, and proves that adding an app edits no file of core."""

from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"
    verbose_name = "Test app"

    def ready(self) -> None:
        from django.db.models import Q

        from vigil.core.access import need_to_know, register_visibility, scope_to_body
        from vigil.core.audit import register_action_labels
        from vigil.core.models import Role

        from .models import Note

        def note_rule(membership, queryset):  # type: ignore[no-untyped-def]
            return need_to_know(
                membership,
                scope_to_body(queryset, membership, confidential_field=None),
                restricted=Q(is_restricted=True),
                holders=Q(holders=membership),
                exempt_roles={Role.HEAD},
            )

        def note_content_rule(membership, queryset):  # type: ignore[no-untyped-def]
            # Sealed notes: their existence may be known, their content read only by holders.
            return need_to_know(
                membership,
                queryset,
                restricted=Q(is_sealed=True),
                holders=Q(holders=membership),
                exempt_roles=(),
            )

        register_visibility(Note, note_rule, content=note_content_rule, grantable=True)
        register_action_labels({"testapp.note.create": "created a note"})
