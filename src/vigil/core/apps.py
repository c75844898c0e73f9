from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "vigil.core"
    label = "core"
    verbose_name = _("Vigil core")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from vigil.core import checks  # noqa: F401  (registers system checks)

        post_migrate.connect(ensure_key_check, sender=self)


def ensure_key_check(**kwargs: object) -> None:
    """Store a known value encrypted with the current keys, once, so that a later start with
    the wrong keys is refused (see checks.encryption_keys_check)."""
    from vigil.core.checks import KEY_CHECK_PLAINTEXT
    from vigil.core.crypto import encrypt_text
    from vigil.core.models import KeyCheck

    using = str(kwargs.get("using", "default"))
    if not KeyCheck.objects.using(using).exists():
        KeyCheck.objects.using(using).create(token=encrypt_text(KEY_CHECK_PLAINTEXT))
