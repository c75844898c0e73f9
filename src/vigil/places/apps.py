from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class PlacesConfig(AppConfig):
    name = "vigil.places"
    label = "places"
    verbose_name = _("Places")

    def ready(self) -> None:
        from vigil.core.access import register_visibility
        from vigil.core.audit import register_action_labels, register_audit_fields
        from vigil.core.registry import (
            HomeCard,
            NavEntry,
            register_api_enums,
            register_api_urls,
            register_home_card,
            register_nav,
            register_urls,
        )
        from vigil.places import (  # noqa: F401  (registers sections, importer and demo data)
            demo,
            dossier,
            home,
            importer,
            queries,
        )
        from vigil.places.models import (
            Place,
            PlaceDocument,
            PlaceStatus,
            PossibleDuplicate,
            Region,
        )
        from vigil.places.permissions import PLACES

        register_visibility(Place, queries.place_rule, history=queries.place_history_rule)
        register_visibility(Region, queries.region_rule)
        register_visibility(PlaceDocument, queries.document_rule)
        register_visibility(PossibleDuplicate, queries.duplicate_rule)

        register_action_labels(
            {
                "places.place.create": pgettext_lazy("audit action", "created"),
                "places.place.update": _("changed"),
                "places.place.delete": _("moved to the trash"),
                "places.place.restore": _("restored"),
                "places.place.merge": _("merged another place into this one"),
                "places.place.merged_into": _("was merged into another place"),
                "places.place.import": _("imported"),
                "places.place.attach_document": _("attached a document"),
                "places.place.remove_document": _("removed a document"),
                "places.place.dismiss_duplicate": _("marked a possible duplicate as distinct"),
                "places.place.read": _("read confidential data"),
                "places.place.export": _("exported places"),
                "places.place.list_api": _("read a large page of places through the API"),
                "places.region.create": _("created a region"),
                "places.region.list_api": _("read a large page of regions through the API"),
            }
        )
        register_audit_fields(
            "places.place",
            labels={
                "merged": _("merged place"),
                "merged_into": _("merged into"),
                "trash": _("in the trash"),
                "document": _("document"),
                "other": _("other place"),
                "identifiers": _("identifiers"),
            },
            choices={"status": PlaceStatus},
            lines=("aliases", "former_names"),
        )

        register_nav(
            NavEntry(
                "places",
                _("Places"),
                "places:list",
                order=10,
                shows_for=lambda membership: PLACES.can(membership, "view"),
                current="places",
            )
        )
        register_home_card(HomeCard("places", 10, "places/_home_places.html", home.places_card))
        register_home_card(
            HomeCard("duplicates", 20, "places/_home_duplicates.html", home.duplicates_card)
        )
        from vigil.core.notify import NotificationKind, register_notification_kind
        from vigil.places import tasks

        register_notification_kind(
            NotificationKind(
                key=tasks.READY_NOTIFICATION,
                label=_("An Excel export of places is ready"),
                describe=tasks.describe_ready,
                email_default=False,
            )
        )
        register_notification_kind(
            NotificationKind(
                key=tasks.FAILED_NOTIFICATION,
                label=_("An Excel export of places failed"),
                describe=tasks.describe_failed,
                email_default=False,
            )
        )
        register_urls("places/", "vigil.places.urls")
        register_api_urls("vigil.places.api_urls")
        register_api_enums({"PlaceStatusEnum": "vigil.places.models.PlaceStatus"})
