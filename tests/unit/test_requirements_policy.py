"""Which requirements lines a session may install: packages only, unless the admin allows options."""

from __future__ import annotations

import pytest

from jupyterhub_execplanner.singleuser.install import useful_lines
from jupyterhub_execplanner.singleuser.requirements import (
    RequirementRefused,
    check_requirements,
    logical_lines,
)

ALLOWED = [
    "numpy",
    "numpy>=1.26",
    "astropy[all]==6.1",
    "Scikit_Learn ~= 1.5.0",
    "pandas>=2,<3",
    'tomli; python_version < "3.11"',
    'pywin32 ; sys_platform == "win32"',
    "requests[socks,security]>=2.31 ; python_version >= '3.8'",
    "zope.interface==6.0",
    "x==1.0 --hash=sha256:0123abcd",
    "x==1.0 --hash sha256:0123abcd --hash=sha256:4567",
]

REFUSED = [
    ("-e git+https://github.com/a/b.git#egg=b", "pip options (-e)"),
    ("--editable ./b", "pip options (--editable)"),
    ("-r other.txt", "pip options (-r)"),
    ("--requirement=other.txt", "pip options (--requirement)"),
    ("-c constraints.txt", "pip options (-c)"),
    ("--index-url https://evil.example/simple", "pip options (--index-url)"),
    ("-i https://evil.example/simple", "pip options (-i)"),
    ("--extra-index-url=https://evil.example/simple", "pip options (--extra-index-url)"),
    ("-f http://evil.example/wheels/", "pip options (-f)"),
    ("--find-links /tmp/wheels", "pip options (--find-links)"),
    ("--trusted-host evil.example", "pip options (--trusted-host)"),
    ("--pre", "pip options (--pre)"),
    ("numpy --no-binary :all:", "pip options (--no-binary)"),
    ("numpy --install-option=--prefix=/", "pip options (--install-option)"),
    ("./localpkg", "local paths"),
    ("../up/pkg", "local paths"),
    ("/abs/path/pkg", "local paths"),
    ("~/pkg", "local paths"),
    ("pkg-1.0-py3-none-any.whl", "local paths and archives"),
    ("pkg-1.0.tar.gz", "local paths and archives"),
    ("dir\\pkg", "local paths"),
    ("https://evil.example/pkg-1.0-py3-none-any.whl", "URLs"),
    ("git+https://github.com/a/b.git", "URLs"),
    ("file:///tmp/pkg", "URLs"),
    ("pkg @ https://evil.example/pkg.whl", "'name @ url'"),
    ("pkg@file:///tmp/pkg.whl", "'name @ url'"),
    ("pkg==${JUPYTERHUB_API_TOKEN}", "${VARIABLE} expansion"),
    ("numpy==", "not a package requirement"),
    ("numpy>=>1", "not a package requirement"),
]


@pytest.mark.parametrize("line", ALLOWED)
def test_package_lines_are_allowed(line: str) -> None:
    result = check_requirements(f"# a comment\n\n{line}  # why\n")
    assert result.lines == (line,)
    assert result.count == 1


@pytest.mark.parametrize(("line", "why"), REFUSED, ids=[line for line, _ in REFUSED])
def test_other_lines_are_refused_naming_the_line(line: str, why: str) -> None:
    with pytest.raises(RequirementRefused) as e:
        check_requirements(f"numpy\n# comment\n{line}\n")
    message = str(e.value)
    assert message.startswith(f"requirements line 3 ({line!r}): ")
    assert why in message
    assert "name packages only" in message


@pytest.mark.parametrize(("line", "_why"), REFUSED, ids=[line for line, _ in REFUSED])
def test_the_admin_may_allow_everything(line: str, _why: str) -> None:
    result = check_requirements(f"numpy\n{line}\n", allow_options=True)
    assert result.lines == ("numpy", line)


def test_continuations_comments_and_blank_lines() -> None:
    text = "numpy \\\n  >=1.26  # pinned\n\n   \n#only a comment\nscipy#not-a-comment\r\n"
    assert logical_lines(text) == [(1, "numpy   >=1.26"), (6, "scipy#not-a-comment")]
    with pytest.raises(RequirementRefused, match="line 6"):
        check_requirements(text)  # '#' without a space before it is part of the line, as in pip
    assert check_requirements("").lines == ()
    assert check_requirements("# nothing\n\n").count == 0


def test_a_continued_option_is_refused_at_its_first_line() -> None:
    with pytest.raises(RequirementRefused, match=r"line 2 \('--index-url   https://x/simple'\)"):
        check_requirements("numpy\n--index-url \\\n  https://x/simple\n")


def test_only_useful_installer_lines_are_kept() -> None:
    pip = """Looking in links: http://127.0.0.1:5/
Collecting nosuchpkg (from -r requirements.txt (line 1))
ERROR: Could not find a version that satisfies the requirement nosuchpkg (from versions: none)
ERROR: No matching distribution found for nosuchpkg
"""
    assert useful_lines(pip, ["nosuchpkg"]) == [
        "ERROR: Could not find a version that satisfies the requirement nosuchpkg (from versions: none)",
        "ERROR: No matching distribution found for nosuchpkg",
    ]
    uv = """Using Python 3.11.7 environment at: /tmp/x/.venv
  × No solution found when resolving dependencies:
  ╰─▶ Because nosuchpkg was not found in the provided package locations and you require nosuchpkg,
      we can conclude that your requirements are unsatisfiable.
"""
    assert useful_lines(uv, ["nosuchpkg"])[:2] == [
        "× No solution found when resolving dependencies:",
        "╰─▶ Because nosuchpkg was not found in the provided package locations and you require nosuchpkg,",
    ]
    assert useful_lines("a\nb\nc\n") == ["a", "b", "c"]  # nothing matched: the last lines
