"""The Django admin for superusers: bodies and memberships; the audit trail strictly read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from vigil.core.models import AuditEntry, Body, Membership


@admin.register(Body)
class BodyAdmin(admin.ModelAdmin):
    list_display = ["name", "short_name", "slug", "coordinator", "require_totp"]
    search_fields = ["name", "short_name", "slug"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "body", "role", "is_active"]
    list_filter = ["body", "role", "is_active"]
    search_fields = ["user__username", "user__email"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Readable by superusers; nobody can add, change or delete an entry, here or anywhere."""

    list_display = ["created_at", "body", "actor_label", "action", "object_type", "object_repr"]
    list_filter = ["body", "action", "sensitive"]
    search_fields = ["actor_label", "object_repr", "action", "object_type"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
