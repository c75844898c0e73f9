"""API tokens kept as hashes, authenticator seeds kept encrypted, the two-factor grace period.

The tokens of rest_framework.authtoken (stored as they are used) become core ApiTokens holding
only the key's SHA-256: each keeps working. django-otp's TOTP devices (seed in plain hex) become
core AuthenticatorDevices with the seed encrypted: each app keeps making valid codes. The old
rows are deleted. A body that already requires two-factor sign-in starts its members' grace
period now.
"""

import hashlib

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import vigil.core.crypto
import vigil.core.models
from django.conf import settings
from django.db import migrations, models


def hash_api_tokens(apps, schema_editor):
    database = schema_editor.connection.alias
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("core", "ApiToken")
    for token in Token.objects.using(database).order_by("created").iterator():
        ApiToken.objects.using(database).create(
            user_id=token.user_id,
            key_hash=hashlib.sha256(token.key.encode("utf-8")).hexdigest(),
            prefix=token.key[:8],
            created_at=token.created,
        )
    Token.objects.using(database).all().delete()


def keep_no_api_tokens(apps, schema_editor):
    # The keys cannot be recovered from their hashes: after going back, people create new tokens.
    pass


DEVICE_FIELDS = [
    "name",
    "confirmed",
    "key",
    "step",
    "t0",
    "digits",
    "tolerance",
    "drift",
    "last_t",
    "throttling_failure_timestamp",
    "throttling_failure_count",
    "last_used_at",
]


def _move_devices(source, target, database):
    for old in source.objects.using(database).order_by("pk").iterator():
        new = target.objects.using(database).create(
            user_id=old.user_id, **{name: getattr(old, name) for name in DEVICE_FIELDS}
        )
        # created_at is filled in on create (auto_now_add): give back the real date.
        target.objects.using(database).filter(pk=new.pk).update(created_at=old.created_at)
    source.objects.using(database).all().delete()


def encrypt_totp_devices(apps, schema_editor):
    # The new model's key field is an EncryptedTextField: saving it encrypts the seed.
    _move_devices(
        apps.get_model("otp_totp", "TOTPDevice"),
        apps.get_model("core", "AuthenticatorDevice"),
        schema_editor.connection.alias,
    )


def decrypt_totp_devices(apps, schema_editor):
    _move_devices(
        apps.get_model("core", "AuthenticatorDevice"),
        apps.get_model("otp_totp", "TOTPDevice"),
        schema_editor.connection.alias,
    )


def start_grace_periods(apps, schema_editor):
    from django.utils import timezone

    Body = apps.get_model("core", "Body")
    Body.objects.using(schema_editor.connection.alias).filter(require_totp=True).update(
        totp_required_since=timezone.now()
    )


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0005_audit_chain'),
        # Only to read the old tokens and devices; nothing else uses these apps any more.
        ('authtoken', '0004_alter_tokenproxy_options'),
        ('otp_totp', '0003_add_timestamps'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='body',
            name='totp_grace_days',
            field=models.PositiveSmallIntegerField(default=7, help_text='How long a member without an authenticator app may set one up by themselves, from when the requirement was turned on or from when they joined. After that, a head has to allow it.', validators=[django.core.validators.MaxValueValidator(90)], verbose_name='days to set up two-factor sign-in'),
        ),
        migrations.AddField(
            model_name='body',
            name='totp_required_since',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='membership',
            name='totp_setup_allowed_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_hash', models.CharField(max_length=64, unique=True)),
                ('prefix', models.CharField(max_length=8, verbose_name='starts with')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
                ('last_used_at', models.DateTimeField(blank=True, null=True, verbose_name='last used')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'API token',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='AuthenticatorDevice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='The human-readable name of this device.', max_length=64)),
                ('confirmed', models.BooleanField(default=True, help_text='Is this device ready for use?')),
                ('throttling_failure_timestamp', models.DateTimeField(blank=True, default=None, help_text='A timestamp of the last failed verification attempt. Null if last attempt succeeded.', null=True)),
                ('throttling_failure_count', models.PositiveIntegerField(default=0, help_text='Number of successive failed attempts.')),
                ('created_at', models.DateTimeField(auto_now_add=True, help_text='The date and time when this device was initially created in the system.', null=True)),
                ('last_used_at', models.DateTimeField(blank=True, help_text='The most recent date and time this device was used.', null=True)),
                ('key', vigil.core.crypto.EncryptedTextField(default=vigil.core.models.new_totp_secret)),
                ('step', models.PositiveSmallIntegerField(default=30)),
                ('t0', models.BigIntegerField(default=0)),
                ('digits', models.PositiveSmallIntegerField(default=6)),
                ('tolerance', models.PositiveSmallIntegerField(default=1)),
                ('drift', models.SmallIntegerField(default=0)),
                ('last_t', models.BigIntegerField(default=-1)),
                ('user', models.ForeignKey(help_text='The user that this device belongs to.', on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'authenticator app',
            },
        ),
        migrations.RunPython(hash_api_tokens, keep_no_api_tokens),
        migrations.RunPython(encrypt_totp_devices, decrypt_totp_devices),
        migrations.RunPython(start_grace_periods, migrations.RunPython.noop),
    ]
