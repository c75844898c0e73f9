from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlacesConfig(AppConfig):
    name = "vigil.places"
    label = "places"
    verbose_name = _("Places")

    def ready(self) -> None:
        from vigil.places import (  # noqa: F401  (registers sections and demo data)
            demo,
            dossier,
            importer,
        )
