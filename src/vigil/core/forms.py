"""Forms of the core pages: sign-in, account, two-factor, members, settings, audit filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils.translation import gettext_lazy as _

from vigil.core.inputs import bound_form_integers
from vigil.core.models import MAX_IMPORT_RETENTION_DAYS, MAX_TOTP_GRACE_DAYS, Role
from vigil.core.text import NameField


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


class AccessibleFormMixin:
    """Points each invalid field at its error message (`aria-describedby`, `aria-invalid`), so a
    screen reader reads the error with the field; core/_field.html renders the matching ids."""

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name not in self.fields:  # type: ignore[attr-defined]
                continue
            field = self.fields[name]  # type: ignore[attr-defined]
            bound = self[name]  # type: ignore[index]
            described_by = [f"{bound.auto_id}_error"]
            if field.help_text:
                described_by.append(f"{bound.auto_id}_helptext")
            field.widget.attrs["aria-describedby"] = " ".join(described_by)
            field.widget.attrs["aria-invalid"] = "true"


class VigilFormMixin(AccessibleFormMixin):
    """What every Vigil form does (a test checks each uses it): accessible errors, and integer
    fields bounded by what their database column holds (`core/inputs.py`), so that no number
    reaches the database to fail there.

    A ModelForm's integer fields take the bounds of their model fields; a plain form whose
    fields are those of a model says which with `storage_model`; any other integer field gets
    the range of a plain integer column.
    """

    storage_model: type[Model] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        meta = getattr(self, "_meta", None)
        model = self.storage_model or getattr(meta, "model", None)
        bound_form_integers(self, model)  # type: ignore[arg-type]


class LoginForm(VigilFormMixin, AuthenticationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        )
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"


class VigilPasswordChangeForm(VigilFormMixin, PasswordChangeForm):
    pass


class AccountForm(VigilFormMixin, forms.Form):
    first_name = NameField(label=_("First name"), max_length=150, required=False)
    last_name = NameField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        self.fields["email"].widget.attrs["autocomplete"] = "email"


class TokenForm(VigilFormMixin, forms.Form):
    token = forms.CharField(
        label=_("Six-digit code"),
        max_length=8,
        help_text=_("The code your authenticator app shows now for Vigil."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9]*",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )

    def clean_token(self) -> str:
        token = "".join(self.cleaned_data["token"].split())
        if not token.isdigit():
            raise forms.ValidationError(_("Enter the digits your app shows."))
        return token


def role_choices(*, may_grant_head: bool) -> list[tuple[str, Any]]:
    return [(value, label) for value, label in Role.choices if may_grant_head or value != Role.HEAD]


class MembershipAddForm(VigilFormMixin, forms.Form):
    username = NameField(
        label=_("Username"),
        max_length=150,
        help_text=_(
            "To add someone who already has a Vigil account (for example in another body), "
            "enter their username and leave the other fields empty: they are invited, and "
            "become a member when they accept."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    role = forms.ChoiceField(label=_("Role in this body"), choices=())
    first_name = NameField(label=_("First name"), max_length=150, required=False)
    last_name = NameField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    password = forms.CharField(
        label=_("Initial password"),
        required=False,
        strip=False,
        help_text=_(
            "For a new account only: at least 12 characters, not a common password. Give it "
            "to the person by a safe channel and ask them to change it."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, may_grant_head: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "role").choices = role_choices(may_grant_head=may_grant_head)


class MembershipRoleForm(VigilFormMixin, forms.Form):
    role = forms.ChoiceField(label=_("Role in this body"), choices=())

    def __init__(self, *args: Any, may_grant_head: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "role").choices = role_choices(may_grant_head=may_grant_head)


class BodySettingsForm(VigilFormMixin, forms.Form):
    require_totp = forms.BooleanField(
        label=_("Require two-factor sign-in"),
        required=False,
        help_text=_(
            "Every member must confirm each sign-in with a one-time code from an authenticator "
            "app. Members who have not set one up yet will be asked to at their next page."
        ),
    )
    totp_grace_days = forms.IntegerField(
        label=_("Days to set up two-factor sign-in"),
        required=False,
        min_value=0,
        max_value=MAX_TOTP_GRACE_DAYS,
        help_text=_(
            "How long a member without an authenticator app may set one up by themselves, "
            "counted from when the requirement is turned on or from when they join. After "
            "that, a password alone is not enough to set one up: a head resets the member's "
            "two-factor sign-in from the list of users, and the member has at least a day."
        ),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    import_retention_days = forms.IntegerField(
        label=_("Delete import files after (days)"),
        # Left empty, the setting stays as it is.
        required=False,
        min_value=1,
        max_value=MAX_IMPORT_RETENTION_DAYS,
        help_text=_(
            "Files uploaded to import records, and the rejected rows Vigil keeps of them, are "
            "deleted this many days after the upload, at the latest (from 1 to 365 days)."
        ),
    )


class AuditFilterForm(VigilFormMixin, forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    action = forms.ChoiceField(label=_("Action"), required=False, choices=())
    object_type = forms.ChoiceField(label=_("Record type"), required=False, choices=())
    actor = forms.ChoiceField(label=_("Who"), required=False, choices=())
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sensitive = forms.BooleanField(label=_("Sensitive reads only"), required=False)

    def __init__(
        self,
        *args: Any,
        actions: list[tuple[str, Any]],
        object_types: list[tuple[str, str]],
        actors: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        everything: list[tuple[str, Any]] = [("", _("All"))]
        choice_field(self, "action").choices = everything + actions
        choice_field(self, "object_type").choices = everything + list(object_types)
        choice_field(self, "actor").choices = everything + actors
        self.fields["q"].widget.attrs["type"] = "search"


def apply_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: under its field when the form has that
    field, at the top otherwise. What the user typed stays in the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)
