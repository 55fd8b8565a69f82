"""The API's reference as the ``/api`` page shows it, read from the service's own OpenAPI
schema (so the page says what the routes declare, and nothing is written twice): each
operation's description, parameters, body fields, who may call it, its answers, and a
``curl`` line. FastAPI's ``/docs`` shows the same schema but loads Swagger UI from a CDN;
this page is plain HTML rendered on the server, so it reads on an offline course server.
"""

from __future__ import annotations

import re
from typing import Any

import markupsafe

# OpenAPI 3.1 lets an http security requirement name roles; the service's routes for the
# instructor alone name this one (app.instructor)
INSTRUCTOR_ROLE = "instructor"
SAMPLE_FILE = "lab3.ipynb"  # what a curl line uploads in a file field


def code_spans(text: str) -> markupsafe.Markup:
    """A docstring's ``literal`` (or Markdown's `literal`) as <code>, the rest escaped."""
    parts = re.split(r"``(.+?)``|`(.+?)`", text)
    out = markupsafe.Markup()
    for n, part in enumerate(parts):
        if part is not None:
            out += markupsafe.Markup("<code>{}</code>").format(part) if n % 3 else part
    return out


def _body_fields(op: dict[str, Any], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    fields = []
    for media, content in op.get("requestBody", {}).get("content", {}).items():
        schema = content.get("schema", {})
        schema = schemas.get(schema.get("$ref", "").rsplit("/", 1)[-1], schema)
        required = set(schema.get("required", []))
        for name, field in schema.get("properties", {}).items():
            binary = field.get("format") == "binary" or "contentMediaType" in field
            fields.append(
                {
                    "name": name,
                    "media": media,
                    "binary": binary,
                    "kind": "a file" if binary else field.get("type", "a value"),
                    "required": name in required,
                }
            )
    return fields


def _curl(base: str, path: str, method: str, op: dict[str, Any], fields: list[Any]) -> str:
    """Path parameters become shell variables ($JOB_ID) unless the schema gives an example;
    the token is $TOKEN, or $INSTRUCTOR_TOKEN where only the instructor's will do."""
    parts = ["curl"]
    if method != "get" and not fields:
        parts.append(f"-X {method.upper()}")
    if op.get("security"):
        token = "INSTRUCTOR_TOKEN" if INSTRUCTOR_ROLE in _roles(op) else "TOKEN"
        parts.append(f'-H "Authorization: Bearer ${token}"')
    for param in op.get("parameters", []):
        if param.get("in") == "path":
            examples = param.get("examples") or param.get("schema", {}).get("examples") or []
            value = str(examples[0]) if examples else "$" + param["name"].upper()
            path = path.replace("{" + param["name"] + "}", value)
    for field in fields:
        if field["media"] == "multipart/form-data":
            parts.append(
                f"-F {field['name']}=" + (f"@{SAMPLE_FILE}" if field["binary"] else "VALUE")
            )
    parts.append(base + path)
    return " ".join(parts)


def _roles(op: dict[str, Any]) -> set[str]:
    return {role for req in op.get("security") or [] for roles in req.values() for role in roles}


def api_reference(schema: dict[str, Any], base: str) -> list[dict[str, Any]]:
    """Each operation of the OpenAPI ``schema``, in its order, as the /api page shows it;
    ``base`` is the service's URL, for the curl lines."""
    schemas = schema.get("components", {}).get("schemas", {})
    operations = []
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            fields = _body_fields(op, schemas)
            if not op.get("security"):
                auth = "anyone"
            elif INSTRUCTOR_ROLE in _roles(op):
                auth = "the instructor's token"
            else:
                auth = "a token (a student's: their own jobs only; the instructor's: every job)"
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "anchor": re.sub(r"[^a-z0-9_]+", "-", f"{method} {path}".lower()).strip("-"),
                    "description": op.get("description") or op.get("summary", ""),
                    "auth": auth,
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p.get("in", ""),
                            "required": p.get("required", False),
                            "type": p.get("schema", {}).get("type", ""),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": fields,
                    "responses": [
                        {
                            "code": code,
                            "description": answer.get("description", ""),
                            "media": ", ".join(answer.get("content", {})),
                        }
                        for code, answer in sorted(op.get("responses", {}).items())
                    ],
                    "curl": _curl(base, path, method, op, fields),
                }
            )
    return operations
