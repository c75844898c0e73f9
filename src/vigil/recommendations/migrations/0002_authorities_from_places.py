"""The place registry's free-text "responsible authority" becomes a link: one authority per
distinct name in each body, responsible for the places that named it."""

from django.db import migrations


def link_places(apps, schema_editor):
    Place = apps.get_model("places", "Place")
    Authority = apps.get_model("recommendations", "Authority")
    found: dict[tuple[int, str], object] = {}
    places = Place.objects.exclude(authority_name="").values_list("id", "body_id", "authority_name")
    for place_id, body_id, name in places.iterator():
        name = " ".join(name.split())[:300]
        if not name:
            continue
        key = (body_id, name.casefold())
        authority = found.get(key)
        if authority is None:
            authority = Authority.objects.filter(body_id=body_id, name__iexact=name).first()
            if authority is None:
                authority = Authority.objects.create(body_id=body_id, name=name)
            found[key] = authority
        authority.places.add(place_id)


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0001_initial")]

    operations = [migrations.RunPython(link_places, migrations.RunPython.noop)]
