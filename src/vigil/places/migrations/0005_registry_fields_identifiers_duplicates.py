"""More of what real lists carry (locality, postal code, country, operator, source, identifiers
under schemes) and duplicates scored from trigram similarity: pg_trgm and a GIN trigram index on
the normalised name on PostgreSQL (SQLite compares names in Python)."""

import re
import unicodedata

from django.contrib.postgres.operations import TrigramExtension
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


CREATE_INDEX = (
    "CREATE INDEX IF NOT EXISTS places_place_match_name_trgm ON places_place "
    "USING gin (match_name gin_trgm_ops)"
)
DROP_INDEX = "DROP INDEX IF EXISTS places_place_match_name_trgm"
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _match_text(text):
    # places.duplicates.match_text, copied: a migration never imports app code.
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(_NOT_WORD.sub(" ", text).split())[:300]


def fill_match_names(apps, schema_editor):
    Place = apps.get_model("places", "Place")
    batch = []
    for place in Place.objects.only("pk", "name").iterator(chunk_size=2000):
        place.match_name = _match_text(place.name)
        batch.append(place)
        if len(batch) >= 2000:
            Place.objects.bulk_update(batch, ["match_name"])
            batch = []
    Place.objects.bulk_update(batch, ["match_name"])


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_INDEX)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_job_heartbeat"),
        ("places", "0004_list_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        TrigramExtension(),
        migrations.CreateModel(
            name="PlaceIdentifier",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("scheme", models.CharField(max_length=100, verbose_name="scheme")),
                ("value", models.CharField(max_length=100, verbose_name="identifier")),
            ],
            options={
                "verbose_name": "identifier",
                "ordering": ["scheme", "value"],
            },
        ),
        migrations.AddField(
            model_name="place",
            name="country",
            field=models.CharField(
                blank=True,
                db_default="", default="",
                help_text="ISO 3166 code, e.g. FR.",
                max_length=2,
                verbose_name="country",
            ),
        ),
        migrations.AddField(
            model_name="place",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="place",
            name="locality",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=200, verbose_name="locality"
            ),
        ),
        migrations.AddField(
            model_name="place",
            name="match_name",
            field=models.CharField(blank=True, db_default="", default="", editable=False, max_length=300),
        ),
        migrations.AddField(
            model_name="place",
            name="operator_kind",
            field=models.CharField(
                blank=True,
                choices=[("public", "Public"), ("private", "Private company")],
                db_default="", default="",
                max_length=16,
                verbose_name="operated by",
            ),
        ),
        migrations.AddField(
            model_name="place",
            name="operator_name",
            field=models.CharField(
                blank=True,
                db_default="", default="",
                help_text="The company that runs the place, when it is privately run.",
                max_length=300,
                verbose_name="operator",
            ),
        ),
        migrations.AddField(
            model_name="place",
            name="postal_code",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=20, verbose_name="postal code"
            ),
        ),
        migrations.AddField(
            model_name="place",
            name="source",
            field=models.CharField(
                blank=True,
                db_default="", default="",
                help_text="Where this record comes from: a list, a file, a visit.",
                max_length=300,
                verbose_name="source",
            ),
        ),
        migrations.AddField(
            model_name="place",
            name="source_import",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="core.tabularimport",
            ),
        ),
        migrations.AddField(
            model_name="possibleduplicate",
            name="distance_m",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="possibleduplicate",
            name="name_similarity",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="possibleduplicate",
            name="shared_identifier",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddIndex(
            model_name="possibleduplicate",
            index=models.Index(
                fields=["body", "status", "score"], name="places_poss_body_id_637cd5_idx"
            ),
        ),
        migrations.AddField(
            model_name="placeidentifier",
            name="body",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="core.body"
            ),
        ),
        migrations.AddField(
            model_name="placeidentifier",
            name="place",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="identifiers",
                to="places.place",
            ),
        ),
        migrations.AddConstraint(
            model_name="placeidentifier",
            constraint=models.UniqueConstraint(
                fields=("body", "scheme", "value"), name="one_place_per_identifier"
            ),
        ),
        migrations.AddConstraint(
            model_name="placeidentifier",
            constraint=models.UniqueConstraint(
                fields=("place", "scheme"), name="one_identifier_per_scheme"
            ),
        ),
        migrations.RunPython(fill_match_names, migrations.RunPython.noop),
        migrations.RunPython(create_index, drop_index),
    ]
