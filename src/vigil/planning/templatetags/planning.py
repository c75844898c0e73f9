from django import template

register = template.Library()


@register.filter
def diagnosis(note: str) -> list[str | int]:
    """A planner diagnosis ("coverage:120:480:300") as its kind and its figures."""
    kind, *figures = note.split(":")
    return [kind, *(int(figure) for figure in figures)]
