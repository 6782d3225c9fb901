"""HTTP mechanisms shared by every stackyard service (rates, the capture apps, vowel).

- ``errors``: JSON bodies for every error (4xx, 503 + ``Retry-After``, a generic 500).
- ``body``: read a request body within a byte limit, whatever its framing (413, 400).
- ``jsonstream``: iterate a JSON array item by item with item, depth and digit limits.
- ``params``: reject repeated query parameters.
- ``auth``: bearer tokens compared in constant time (401).
- ``proxy``: ``X-Forwarded-For``/``X-Real-IP`` honoured only from trusted peers.
- ``gunicorn``: a gunicorn configuration from a service's settings, and its state file.
"""
