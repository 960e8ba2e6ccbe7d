"""The gateway's HTTP machinery, independent of what the routes do.

* ``operation`` — ``Operation``: one route's whole declaration (method, path, models,
  permission, documentation); ``Reply`` for a status or headers other than the declared ones.
* ``registry`` — ``Registry``: the operations of an app, as aiohttp routes, public paths and
  the input of the OpenAPI document; checked when built, so a bad declaration fails at start.
* ``binding`` — from a request to the handler's validated models and back to a response.
* ``limits`` — bounds on every request before anything reads it: parameters without control
  characters, body size (problem+json 413) and JSON nesting.
* ``openapi`` / ``docs_page`` — the OpenAPI 3.1 document and its HTML rendering.
* ``problems`` — RFC 9457 problem documents: the model, validation errors, size limits.

Listings page with keyset cursors kept by the repositories (``lakecache.gateway.repositories.pages``).
"""
