"""Which lines a session's requirements file may have.

By default a requirements file may only name packages: a name with optional extras, version
specifiers and an environment marker (``numpy>=1.26``, ``astropy[all]==6.1; python_version>="3.10"``),
optionally followed by ``--hash=`` options. Everything else pip accepts is refused with a message that
names the line number and the line: options (``-e``, ``-r``, ``-c``, ``--index-url``,
``--extra-index-url``, ``-f``/``--find-links``, ``--trusted-host``, ...), local paths and archives,
URLs, ``name @ url`` references and ``${VARIABLE}`` expansion. With ``allow_options`` the admin
trusts requirements files and every line is kept as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH_OPTION = re.compile(r"^--hash(=|$)")
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")
EXAMPLE = 'name packages only, e.g. "numpy>=1.26" or "astropy[all]==6.1"'


class RequirementRefused(ValueError):
    """A requirements line this hub does not install; the message names the line."""


@dataclass(frozen=True)
class Requirements:
    lines: tuple[str, ...]  # the lines to install, one requirement (or allowed option) each
    count: int  # how many of them name a package

    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) for each logical line: continuations joined, comments and blank
    lines dropped, as pip reads them."""
    result: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        line = _COMMENT.sub("", "".join(pending)).strip()
        pending = []
        if line:
            result.append((start, line))
    if pending:
        line = _COMMENT.sub("", "".join(pending)).strip()
        if line:
            result.append((start, line))
    return result


def _refuse(number: int, line: str, why: str) -> RequirementRefused:
    shown = line if len(line) <= 200 else line[:200] + "…"
    return RequirementRefused(f"requirements line {number} ({shown!r}): {why}")


def check_line(number: int, line: str) -> str:
    """The line if it only names a package (with ``--hash`` options); RequirementRefused if not."""
    if "${" in line:
        raise _refuse(number, line, f"${{VARIABLE}} expansion is not allowed on this hub; {EXAMPLE}")
    tokens = line.split()
    options_at = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
    if options_at == 0:
        raise _refuse(
            number, line, f"pip options ({tokens[0].split('=')[0]}) are not allowed on this hub; {EXAMPLE}"
        )
    options = tokens[options_at:]
    for i, option in enumerate(options):
        value_of_hash = i > 0 and options[i - 1] == "--hash"
        if not (_HASH_OPTION.match(option) or value_of_hash):
            raise _refuse(
                number, line,
                f"pip options ({option.split('=')[0]}) are not allowed on this hub; {EXAMPLE}",
            )
    spec = " ".join(tokens[:options_at])
    lowered = spec.lower().split(";")[0].strip()
    if "://" in spec or lowered.startswith(("git+", "hg+", "svn+", "bzr+", "file:")):
        raise _refuse(
            number, line, f"URLs and 'name @ url' references are not allowed on this hub; {EXAMPLE}"
        )
    if "/" in lowered or "\\" in lowered or lowered.startswith((".", "~")) or lowered.endswith(
        _ARCHIVE_SUFFIXES
    ):
        raise _refuse(number, line, f"local paths and archives are not allowed on this hub; {EXAMPLE}")
    try:
        requirement = Requirement(spec)
    except InvalidRequirement as e:
        detail = str(e).splitlines()[0] if str(e) else "invalid"
        raise _refuse(number, line, f"not a package requirement ({detail}); {EXAMPLE}") from None
    if requirement.url:
        raise _refuse(number, line, f"'name @ url' references are not allowed on this hub; {EXAMPLE}")
    return line


def check_requirements(text: str, *, allow_options: bool = False) -> Requirements:
    """The lines of a requirements file to install; RequirementRefused for the first refused line."""
    lines = logical_lines(text)
    if allow_options:
        kept = tuple(line for _, line in lines)
        return Requirements(kept, sum(1 for line in kept if not line.startswith("-")))
    return Requirements(tuple(check_line(number, line) for number, line in lines), len(lines))
