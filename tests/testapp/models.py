from django.db import models

from vigil.core.models import Body, Membership


class Note(models.Model):
    body = models.ForeignKey(Body, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    is_restricted = models.BooleanField(default=False)
    is_sealed = models.BooleanField(default=False)
    holders = models.ManyToManyField(Membership, blank=True, related_name="+")

    class Meta:
        app_label = "testapp"
        verbose_name = "note"

    def __str__(self) -> str:
        return self.title
