from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "vigil.core"
    label = "core"
    verbose_name = _("Vigil core")

    def ready(self) -> None:
        from vigil.core import checks  # noqa: F401  (registers system checks)
