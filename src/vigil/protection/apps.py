from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProtectionConfig(AppConfig):
    name = "vigil.protection"
    label = "protection"
    verbose_name = _("Protection of persons")

    def ready(self) -> None:
        from vigil.protection import registrations

        registrations.register_all()
