"""Malformed and hostile request bodies, shared by the layers that fuzz an endpoint with them."""

from __future__ import annotations

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]"
       for i in range(8)]
)

HOSTILE = {
    "invalid-yaml": ("application/yaml", b"executable: [unclosed\n  - : :"),
    "invalid-json": ("application/json", b'{"executable": '),
    "alias-bomb": ("application/yaml", BILLION_LAUGHS.encode()),
    "python-tag": ("application/yaml", b"!!python/object/apply:os.system ['echo pwned']"),
    "deep-json": ("application/json", b"[" * 100_000 + b"]" * 100_000),
    "deep-yaml": ("application/yaml", b"a: " + b"[" * 50_000 + b"]" * 50_000),
    "twenty-mb": ("application/json", b'{"pad": "' + b"x" * (20 * 1024 * 1024) + b'"}'),
    "not-utf8": ("application/json", b'{"executable": "\xff\xfe"}'),
    "empty": ("application/json", b""),
    "scalar": ("application/json", b"42"),
    "list": ("application/json", b"[1, 2, 3]"),
    "null": ("application/yaml", b"~"),
    "xml": ("application/xml", b"<offers-request/>"),
    "two-yaml-docs": ("application/yaml", b"a: 1\n---\nb: 2\n"),
}
