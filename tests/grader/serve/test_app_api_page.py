"""The API's reference page, /api: rendered by the service from its own OpenAPI schema,
so it reads on a course server without the internet (FastAPI's /docs loads Swagger UI
from a CDN). Every API route is on it, and what it says about each is what the route
does: who may call it (tried with a student's token and none), and its curl line."""

from __future__ import annotations

import html
import re
import shlex

from tests.grader.serve.conftest import Class, need_web_stack
from tests.grader.serve.test_app_api import client_of, submit

need_web_stack()
from fastapi.routing import APIRoute  # noqa: E402


def sections(page: str) -> dict[tuple[str, str], str]:
    """Each route's section of the page, by (method, path)."""
    found = re.findall(
        r'<section class="route"[^>]*>\s*<h3><code>(\w+) (\S+)</code></h3>(.*?)</section>',
        page,
        re.S,
    )
    return {(m, html.unescape(p)): body for m, p, body in found}


def test_the_api_page_lists_every_api_route_and_says_who_may_call_it(klass: Class) -> None:
    client, _ = client_of(klass)
    job = str(submit(client, klass, "alice")["job"])
    page = client.get("/api", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    shown = sections(page.text)
    routes = [
        (method, route.path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.path.startswith("/api/")
        for method in sorted(route.methods or ())
    ]
    assert len(routes) >= 7 and sorted(shown) == sorted(routes)
    for (method, path), body in shown.items():
        url = path.replace("{job_id}", job).replace("{fmt}", "md")
        call = client.post if method == "POST" else client.get
        anonymous = call(url)
        assert anonymous.status_code == 401, path
        assert "<td>401</td>" in body, path  # the answer it gives is documented
        as_student = call(url, headers=klass.auth("alice"))
        says_instructor = "the instructor&#39;s token." in body
        assert (as_student.status_code == 403) == says_instructor, (path, as_student.status_code)
        if says_instructor:
            assert "<td>403</td>" in body, path
        (curl,) = re.findall(r"<pre[^>]*><code>(curl .*?)</code></pre>", body)
        words = shlex.split(html.unescape(curl))
        assert words[-1] == "http://testserver" + re.sub(r"\{(\w+)\}", _shell_var, path).replace(
            "$FMT", "md"
        )
        assert ("-F" in words) == (method == "POST")
        token = "$INSTRUCTOR_TOKEN" if says_instructor else "$TOKEN"
        assert words[words.index("-H") + 1] == f"Authorization: Bearer {token}"


def _shell_var(match: re.Match[str]) -> str:
    return "$" + match.group(1).upper()


def test_the_api_page_loads_nothing_from_elsewhere(klass: Class) -> None:
    """No script, style sheet, image or font from another host: the page is whole as
    served, so it reads the same with no network (and with no JavaScript)."""
    client, _ = client_of(klass)
    page = client.get("/api").text
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    # the pages link it; the schema it is made from is served too
    assert 'href="/api"' in client.get("/").text
    assert client.get("/openapi.json").json()["paths"]
