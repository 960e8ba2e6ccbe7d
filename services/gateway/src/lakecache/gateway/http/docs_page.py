"""A plain HTML rendering of an OpenAPI document: the API reference at ``/api/v1/docs``.

Rendered on the server from the same document as ``openapi.json``, with no JavaScript: it
works offline, behind strict content-security policies and in a terminal browser, and there is
no renderer to vendor and keep patched. Tools that want more (try-it-out, client generation)
read ``openapi.json`` directly.
"""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;margin-top:2.5rem}
.op{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:monospace}
code,.p{font-family:ui-monospace,monospace;font-size:90%}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #eee;padding:.2rem .5rem;text-align:left}
.GET{color:#1565c0}.POST{color:#2e7d32}.PUT{color:#ef6c00}.PATCH{color:#6a1b9a}.DELETE{color:#c62828}
"""


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = _name(schema["$ref"])
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(f"<code>{escape(repr(v))}</code>" for v in schema["enum"])
    if "const" in schema:
        return f"<code>{escape(repr(schema['const']))}</code>"
    text = str(schema.get("type", "any"))
    return escape(text + (f" ({schema['format']})" if "format" in schema else ""))


def _text(value: str) -> str:
    return "".join(f"<p>{escape(paragraph)}</p>" for paragraph in value.split("\n\n") if paragraph)


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    parts = [f'<div class="op" id="{escape(op["operationId"])}"><span class="m {method.upper()}">{method.upper()}'
             f'</span> <span class="p">{escape(path)}</span> — <b>{escape(op["summary"])}</b>',
             _text(op.get("description", ""))]
    if op.get("parameters"):
        rows = "".join(f"<tr><td><code>{escape(p['name'])}</code></td><td>{p['in']}</td><td>{_type(p['schema'])}"
                       f"</td><td>{escape(p.get('description', ''))}</td></tr>" for p in op["parameters"])
        parts.append(f"<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>{rows}</table>")
    if "requestBody" in op:
        [(media_type, content)] = op["requestBody"]["content"].items()
        parts.append(f"<div>Body ({escape(media_type)}): {_type(content['schema'])}</div>")
    answers = []
    for status, response in op["responses"].items():
        schema = next(iter(response.get("content", {}).values()), {}).get("schema")
        if "$ref" in response:
            answers.append(escape(status))
        else:
            answers.append(f"<b>{escape(status)}</b>" + (f" {_type(schema)}" if schema else ""))
    shared = any("$ref" in response for response in op["responses"].values())  # the shared problem answers
    parts.append(f"<div>Answers: {', '.join(answers)}{' (errors are problem documents)' if shared else ''}"
                 "</div></div>")
    return "".join(parts)


def _schema(name: str, schema: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td><code>{escape(field)}</code>{'' if field not in schema.get('required', ()) else ' *'}"
                   f"</td><td>{_type(s)}</td><td>{escape(s.get('description', ''))}</td></tr>"
                   for field, s in schema.get("properties", {}).items())
    body = f"<table>{rows}</table>" if rows else f"<div>{_type(schema)}</div>"
    return (f'<div class="op" id="schema-{escape(name)}"><b>{escape(name)}</b>'
            f"{_text(schema.get('description', ''))}{body}</div>")


def render_docs(document: dict[str, Any], *, openapi_url: str) -> str:
    """The HTML page of ``document`` (whose JSON is served at ``openapi_url``)."""
    info = document["info"]
    by_tag: dict[str, list[str]] = {t["name"]: [] for t in document.get("tags", [])}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            by_tag.setdefault(op["tags"][0], []).append(_operation(method, path, op))
    sections = "".join(f'<h2 id="tag-{escape(tag)}">{escape(tag)}</h2>{"".join(ops)}' for tag, ops in by_tag.items())
    contents = " · ".join(f'<a href="#tag-{escape(tag)}">{escape(tag)}</a>' for tag in by_tag)
    schemas = "".join(_schema(n, s) for n, s in document["components"]["schemas"].items())
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(info["title"])}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{escape(info['title'])} <small>{escape(info['version'])}"
            f"</small></h1>{_text(info.get('description', ''))}<p>Machine-readable: "
            f'<a href="{escape(openapi_url)}">{escape(openapi_url)}</a> (OpenAPI 3.1). Fields marked * are '
            f"required.</p><p>{contents} · <a href=\"#schemas\">schemas</a></p>{sections}"
            f'<h2 id="schemas">schemas</h2>{schemas}</body></html>')
