"""Every class a template gives an element is styled somewhere, or is a named hook.

A class that no stylesheet knows is usually a typo or a name from another page (a table marked
`stack-on-phone` instead of `stacked` stayed a sideways-scrolling table on phones)."""

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "vigil"

# Classes that are hooks for scripts or tests, or styled by the <style> of a PDF template.
HOOKS = {
    "answers-form",
    "map-data",
    "qr-code",
    "retry",
    "secret",
    "summary",
    "unknown-signins",
    "what",
}


def _styled_classes() -> set[str]:
    css = "".join(path.read_text() for path in SRC.rglob("*.css"))
    # A PDF template's own <style> counts too.
    css += "".join(
        "".join(re.findall(r"<style>(.*?)</style>", path.read_text(), re.S))
        for path in SRC.rglob("*.html")
    )
    return set(re.findall(r"\.([A-Za-z][\w-]*)", css))


def test_every_template_class_is_styled_or_a_known_hook():
    styled = _styled_classes() | HOOKS
    unknown: dict[str, list[str]] = {}
    for path in SRC.rglob("*.html"):
        # Only literal class lists: a class built by a template tag is checked where it is written.
        for match in re.finditer(r'class="([^"{}]*)"', path.read_text()):
            for name in match.group(1).split():
                if name not in styled:
                    unknown.setdefault(name, []).append(str(path.relative_to(SRC)))
    assert unknown == {}, f"classes no stylesheet knows (a typo?): {unknown}"
