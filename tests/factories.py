"""factory_boy factories for Vigil's records; every value is synthetic."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from vigil.core.models import Body, Membership, Role, TaxonomyTerm
from vigil.core.taxonomy import seed_taxonomy
from vigil.places.models import Place, PlaceStatus, Region

PASSWORD = "correct-horse-battery-staple"


class BodyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Body
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Preventive Mechanism {n}")
    slug = factory.Sequence(lambda n: f"body-{n}")

    @factory.post_generation
    def taxonomy(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            seed_taxonomy(self)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    body = factory.SubFactory(BodyFactory)
    role = Role.MONITOR


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        skip_postgeneration_save = True

    body = factory.SubFactory(BodyFactory)
    name = factory.Sequence(lambda n: f"Region {n}")
    level = 1

    @factory.post_generation
    def set_path(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            from vigil.places.services import region_path

            self.path = region_path(self)
            self.save(update_fields=["path"])


def place_type(body: Body, code: str = "prison") -> TaxonomyTerm:
    return TaxonomyTerm.objects.get(body=body, kind="place_type", code=code)


class PlaceFactory(factory.django.DjangoModelFactory):
    """A place written straight to the table (no audit); tests of services call the services."""

    class Meta:
        model = Place
        skip_postgeneration_save = True

    body = factory.SubFactory(BodyFactory)
    name = factory.Sequence(lambda n: f"Detention Centre {n}")
    place_type = factory.LazyAttribute(lambda place: place_type(place.body))
    status = PlaceStatus.OPEN
    address = factory.Sequence(lambda n: f"{n} Synthetic Street")
    authority_name = "Ministry of Justice"

    @factory.post_generation
    def search(self, create: bool, extracted: object, **kwargs: object) -> None:
        from vigil.places.services import index_place

        index_place(self)
        if create:
            self.save(update_fields=["search_text", "match_name"])
