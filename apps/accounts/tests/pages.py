"""Reading a page's HTML the way a person meets it: which form controls can be used."""

from __future__ import annotations

from html.parser import HTMLParser

CONTROLS = {"input", "select", "textarea", "button"}
VOID = {"input", "br", "img", "hr", "meta", "link", "area", "base", "col", "embed", "source"}


class _Controls(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.usable: list[str] = []  # controls of POST forms that can be used
        self.htmx_writes: list[str] = []  # elements that send an unsafe request by themselves
        self.seen_controls = 0

    def _in(self, predicate) -> bool:
        return any(predicate(tag, attrs) for tag, attrs in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in VOID:
            self.stack.append((tag, attrs))
        for method in ("hx-post", "hx-put", "hx-patch", "hx-delete"):
            if method in attrs and "hidden" not in attrs and tag != "form":
                self.htmx_writes.append(f"<{tag} {method}={attrs[method]}>")
        if tag not in CONTROLS:
            return
        if tag == "input" and attrs.get("type") == "hidden":
            return
        in_post_form = self._in(lambda t, a: t == "form" and a.get("method", "").lower() == "post")
        logout = self._in(lambda t, a: t == "form" and "logout" in a.get("action", ""))
        if not in_post_form or logout:
            return
        self.seen_controls += 1
        disabled = "disabled" in attrs or self._in(lambda t, a: t == "fieldset" and "disabled" in a)
        if not disabled:
            self.usable.append(f"<{tag} name={attrs.get('name')!r}>")

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return


def controls(html: str) -> _Controls:
    parser = _Controls()
    parser.feed(html)
    parser.close()
    return parser
