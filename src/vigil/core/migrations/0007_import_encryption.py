"""Import files and the cells of them Vigil shows are encrypted at rest, and deleted after a
retention period each body sets.

The file (`data`) and the problems found (`errors`) move to encrypted columns of their own; the
first values of each column and the preview rows leave `summary` (stored in clear) for encrypted
fields. Existing rows are encrypted here with the keys in VIGIL_ENCRYPTION_KEYS.
"""

import django.core.validators
from django.db import migrations, models

import vigil.core.crypto

# Keys of `summary` that held cells of the file.
MOVED_OUT_OF_SUMMARY = ("samples", "preview")


def encrypt_imports(apps, schema_editor):
    TabularImport = apps.get_model("core", "TabularImport")
    # One import at a time: each may hold a file of up to VIGIL_MAX_IMPORT_MB.
    for pk in TabularImport.objects.order_by("pk").values_list("pk", flat=True):
        imp = TabularImport.objects.get(pk=pk)
        summary = dict(imp.summary or {})
        moved = {key: summary.pop(key, None) or [] for key in MOVED_OUT_OF_SUMMARY}
        # The new fields encrypt what is assigned to them (vigil.core.crypto).
        imp.encrypted_data = bytes(imp.data or b"")
        imp.encrypted_errors = list(imp.errors or [])
        imp.samples = moved["samples"]
        imp.preview = moved["preview"]
        imp.summary = summary
        imp.save(
            update_fields=["encrypted_data", "encrypted_errors", "samples", "preview", "summary"]
        )


def decrypt_imports(apps, schema_editor):
    TabularImport = apps.get_model("core", "TabularImport")
    for pk in TabularImport.objects.order_by("pk").values_list("pk", flat=True):
        imp = TabularImport.objects.get(pk=pk)
        imp.data = bytes(imp.encrypted_data or b"")
        imp.errors = list(imp.encrypted_errors or [])
        imp.summary = {
            **(imp.summary or {}),
            "samples": imp.samples or [],
            "preview": imp.preview or [],
        }
        imp.save(update_fields=["data", "errors", "summary"])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_auth_hardening"),
    ]

    operations = [
        migrations.AddField(
            model_name="body",
            name="import_retention_days",
            field=models.PositiveSmallIntegerField(
                default=30,
                help_text="Uploaded import files, and what Vigil keeps of their rows, are "
                "deleted this many days after the upload.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(365),
                ],
                verbose_name="keep import files for (days)",
            ),
        ),
        migrations.AddField(
            model_name="tabularimport",
            name="data_deleted_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="file deleted"),
        ),
        migrations.AddField(
            model_name="tabularimport",
            name="rows_counted",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="tabularimport",
            name="encrypted_data",
            field=vigil.core.crypto.EncryptedBinaryField(),
        ),
        migrations.AddField(
            model_name="tabularimport",
            name="encrypted_errors",
            field=vigil.core.crypto.EncryptedJSONField(default=list),
        ),
        migrations.AddField(
            model_name="tabularimport",
            name="samples",
            field=vigil.core.crypto.EncryptedJSONField(default=list),
        ),
        migrations.AddField(
            model_name="tabularimport",
            name="preview",
            field=vigil.core.crypto.EncryptedJSONField(default=list),
        ),
        migrations.RunPython(encrypt_imports, decrypt_imports),
        # A default, so that undoing this migration can add the plain column back to rows.
        migrations.AlterField(
            model_name="tabularimport", name="data", field=models.BinaryField(default=b"")
        ),
        migrations.RemoveField(model_name="tabularimport", name="data"),
        migrations.RemoveField(model_name="tabularimport", name="errors"),
        migrations.RenameField(
            model_name="tabularimport", old_name="encrypted_data", new_name="data"
        ),
        migrations.RenameField(
            model_name="tabularimport", old_name="encrypted_errors", new_name="errors"
        ),
        migrations.AlterField(
            model_name="tabularimport",
            name="status",
            field=models.CharField(
                choices=[
                    ("uploaded", "Uploaded"),
                    ("validated", "Checked"),
                    ("queued", "Queued"),
                    ("running", "Importing"),
                    ("done", "Imported"),
                    ("rejected", "Nothing imported"),
                    ("failed", "Failed"),
                    ("expired", "File deleted"),
                ],
                default="uploaded",
                max_length=16,
            ),
        ),
    ]
