"""Which lines a session's requirements file may have.

By default a requirements file may only name packages: a name with optional extras, version
specifiers and an environment marker (``numpy>=1.26``, ``astropy[all]==6.1; python_version>="3.10"``),
optionally followed by ``--hash=`` options. Everything else pip accepts is refused with a message that
names the line number and what is wrong: options (``-e``, ``-r``, ``-c``, ``--index-url``,
``--extra-index-url``, ``-f``/``--find-links``, ``--trusted-host``, ...), local paths and archives (also
with extras or a marker, ``pkg-1.0-py3-none-any.whl[x]``, which pip installs as a file), URLs,
``name @ url`` references and ``${VARIABLE}`` expansion. With ``allow_options`` the admin trusts
requirements files and every line is kept as is. Either way a file has at most ``max_lines``
requirement lines (``requirements_max_lines``).

A message never quotes the line: the file was fetched from a URL the request named, and its text is
not for the session's messages (only a known pip option's name is said).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

MAX_LINES = 100
_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH_OPTION = re.compile(r"^--hash(=|$)")
_EXTRAS = re.compile(r"^(.+)(\[[^\]]+\])$")  # as pip's _strip_extras
# pip's ARCHIVE_EXTENSIONS: a requirement ending so is installed as a local file
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz",
                     ".tar.lz", ".tar.lzma", ".tar")
_URL_PREFIXES = ("git+", "hg+", "svn+", "bzr+", "file:", "http:", "https:", "ftp:")
# the options pip reads in a requirements file: only these names are ever said in a message
_PIP_OPTIONS = frozenset({
    "-i", "--index-url", "--extra-index-url", "--no-index", "-c", "--constraint", "-r", "--requirement",
    "-e", "--editable", "-f", "--find-links", "--no-binary", "--only-binary", "--prefer-binary",
    "--require-hashes", "--pre", "--trusted-host", "--use-feature", "--global-option", "--install-option",
    "--config-settings", "--hash",
})
EXAMPLE = 'name packages only, e.g. "numpy>=1.26" or "astropy[all]==6.1"'
SETTING = "c.ExecPlanner.requirements_max_lines"


class RequirementRefused(ValueError):
    """A requirements file or line this hub does not install; the message names the line number."""


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


def _refuse(number: int, why: str) -> RequirementRefused:
    return RequirementRefused(f"requirements line {number}: {why}")


def _options_refused(token: str) -> str:
    name = token.split("=")[0]
    named = f" ({name})" if name in _PIP_OPTIONS else ""
    return f"pip options{named} are not allowed on this hub; {EXAMPLE}"


def bare_name(spec: str) -> str:
    """What pip takes for a file name: the text before a marker (``;``), without extras, lower case."""
    name = spec.split(";", 1)[0].strip()
    extras = _EXTRAS.match(name)
    return (extras.group(1) if extras else name).strip().lower()


def check_line(number: int, line: str) -> str:
    """The line if it only names a package (with ``--hash`` options); RequirementRefused if not."""
    if "${" in line:
        raise _refuse(number, f"${{VARIABLE}} expansion is not allowed on this hub; {EXAMPLE}")
    tokens = line.split()
    options_at = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
    if options_at == 0:
        raise _refuse(number, _options_refused(tokens[0]))
    options = tokens[options_at:]
    for i, option in enumerate(options):
        value_of_hash = i > 0 and options[i - 1] == "--hash"
        if not (_HASH_OPTION.match(option) or value_of_hash):
            raise _refuse(number, _options_refused(option))
    spec = " ".join(tokens[:options_at])
    lowered, bare = spec.lower().split(";")[0].strip(), bare_name(spec)
    if "://" in spec or lowered.startswith(_URL_PREFIXES):
        raise _refuse(number, f"URLs and 'name @ url' references are not allowed on this hub; {EXAMPLE}")
    for name in (lowered, bare):
        if "/" in name or "\\" in name or name.startswith((".", "~")) or name.endswith(_ARCHIVE_SUFFIXES):
            raise _refuse(number, f"local paths and archives are not allowed on this hub; {EXAMPLE}")
    try:
        requirement = Requirement(spec)
    except InvalidRequirement:
        raise _refuse(number, f"not a package requirement; {EXAMPLE}") from None
    if requirement.url:
        raise _refuse(number, f"'name @ url' references are not allowed on this hub; {EXAMPLE}")
    return line


def check_requirements(text: str, *, allow_options: bool = False, max_lines: int = MAX_LINES) -> Requirements:
    """The lines of a requirements file to install; RequirementRefused for a file of more than
    ``max_lines`` requirement lines, or for the first refused line."""
    lines = logical_lines(text)
    if len(lines) > max_lines:
        raise RequirementRefused(
            f"the requirements file has {len(lines)} requirement lines; this hub installs at most "
            f"{max_lines} ({SETTING}): install fewer packages, or ask the hub's administrator"
        )
    if allow_options:
        kept = tuple(line for _, line in lines)
        return Requirements(kept, sum(1 for line in kept if not line.startswith("-")))
    return Requirements(tuple(check_line(number, line) for number, line in lines), len(lines))
