"""The Content-Security-Policy forbids inline scripts, so no template may rely on one: no
<script> without src, no on*= handler attribute, no javascript: URL, and no htmx feature that
needs eval (trigger filters in [brackets], hx-on, hx-vars)."""

import re
from pathlib import Path

import pytest

from apps.accounts.roles import Role
from studio.csp import POLICY

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(
    path
    for folder in [ROOT / "templates", *(ROOT / "apps").glob("*/templates")]
    for path in folder.rglob("*.html")
)
INLINE = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.I), "an inline event handler (on...=)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"""hx-trigger\s*=\s*["'][^"']*\[""", re.I), "an htmx trigger filter (eval)"),
    (re.compile(r"\shx-on[:-]", re.I), "hx-on (eval)"),
    (re.compile(r"\s(hx|data-hx)-vars\s*=", re.I), "hx-vars (eval)"),
]


def test_the_templates_were_found():
    assert len(TEMPLATES) > 20
    assert ROOT / "templates" / "base.html" in TEMPLATES


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_script(template):
    text = template.read_text(encoding="utf-8")
    found = [
        f"{template.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {what}"
        for pattern, what in INLINE
        for match in pattern.finditer(text)
    ]
    assert found == []


def test_the_policy_forbids_inline_script_and_framing():
    directives = dict(part.strip().split(" ", 1) for part in POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-eval" not in POLICY


def test_htmx_injects_no_styles_and_evaluates_nothing(admin_client):
    page = admin_client.get("/").content.decode()
    config = re.search(r"""<meta name="htmx-config" content='([^']*)'>""", page).group(1)
    assert '"includeIndicatorStyles": false' in config and '"allowEval": false' in config
    assert "studio/studio.js" in page


@pytest.mark.parametrize(
    "url",
    ["/", "/login/", "/healthz", "/api/v1/schema", "/a/alpha/conversations", "/a/alpha/try"],
)
def test_responses_carry_the_policy(client, make_user, assistant, url):
    client.force_login(make_user("dev", Role.SUPERUSER))
    response = client.get(url)
    assert response.status_code < 500
    assert response["Content-Security-Policy"] == POLICY


def test_error_pages_carry_the_policy(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Security-Policy"] == POLICY
