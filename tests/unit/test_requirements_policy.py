"""Which requirements lines a session may install: packages only, unless the admin allows options; at
most requirements_max_lines of them; refusals and install failures never quote the file."""

from __future__ import annotations

import pytest

from jupyterhub_execplanner.service.settings import ExecPlanner
from jupyterhub_execplanner.singleuser.install import install_failure, useful_lines
from jupyterhub_execplanner.singleuser.requirements import (
    EXAMPLE,
    MAX_LINES,
    RequirementRefused,
    bare_name,
    check_requirements,
    logical_lines,
)

KNOWN_OPTIONS = {"--editable", "--requirement", "--index-url", "--extra-index-url", "--find-links",
                 "--trusted-host", "--pre", "--no-binary", "--install-option"}

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
    ("--secret-token-in-the-file", "pip options are not allowed"),
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
    # pip strips extras and the marker, then installs an archive name as a local file
    ("evilpkg-1.0-py3-none-any.whl[x]", "local paths and archives"),
    ("EvilPkg-1.0-py3-none-any.WHL[x,y]", "local paths and archives"),
    ("evilpkg-1.0.tar.gz[x] ; python_version > '3'", "local paths and archives"),
    ("evilpkg-1.0.zip;python_version>'3'", "local paths and archives"),
    ("evilpkg-1.0.tar.lzma", "local paths and archives"),
    ("pkg[x] @ file:///tmp/pkg.whl", "URLs"),
    ("http:evil.example/pkg", "URLs"),
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
    assert message.startswith("requirements line 3: ")
    assert why in message
    assert "name packages only" in message
    # the line's text is never quoted (only a known option's name is said)
    said = message.replace(EXAMPLE, "")
    for word in line.replace("=", " ").replace("[", " ").split():
        if len(word) >= 4 and word not in KNOWN_OPTIONS:
            assert word not in said, (word, message)


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
    with pytest.raises(RequirementRefused, match=r"^requirements line 2: pip options \(--index-url\)"):
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


@pytest.mark.parametrize(("spec", "bare"), [
    ("evilpkg-1.0-py3-none-any.whl[x]", "evilpkg-1.0-py3-none-any.whl"),
    ("Pkg.TAR.GZ[a,b] ; python_version > '3'", "pkg.tar.gz"),
    ("numpy[extra]", "numpy"),
    ("numpy", "numpy"),
])
def test_the_name_pip_would_take_for_a_file(spec: str, bare: str) -> None:
    assert bare_name(spec) == bare


def test_the_number_of_lines_is_capped_naming_the_setting() -> None:
    assert MAX_LINES == ExecPlanner().requirements_max_lines == 100
    fine = "".join(f"pkg{i}\n" for i in range(3)) + "# a comment\n\n"
    assert check_requirements(fine, max_lines=3).count == 3
    with pytest.raises(RequirementRefused) as caught:
        check_requirements(fine + "pkg3\n", max_lines=3)
    assert str(caught.value) == (
        "the requirements file has 4 requirement lines; this hub installs at most 3 "
        "(c.ExecPlanner.requirements_max_lines): install fewer packages, or ask the hub's administrator")
    with pytest.raises(RequirementRefused, match="has 101 requirement lines"):  # options count too
        check_requirements("-r x\n" * 101, allow_options=True)
    with pytest.raises(Exception, match="requirements_max_lines must be at least 1"):
        ExecPlanner(requirements_max_lines=0)


def test_a_huge_line_is_refused_without_quoting_it() -> None:
    huge = "x" * (1024 * 1024) + "==>1"
    with pytest.raises(RequirementRefused) as caught:
        check_requirements(f"numpy\n{huge}\n")
    assert str(caught.value).startswith("requirements line 2: ") and len(str(caught.value)) < 200


INSTALL_FAILURES = [
    ("ERROR: Could not find a version that satisfies the requirement secret-token-123 (from versions: none)\n"
     "ERROR: No matching distribution found for secret-token-123\n",
     "pip could not install the requirements (exit status 1): no version of one of the requirements "
     "could be found for this server; see the server's log"),
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because secret-token-123 was not found in "
     "the package registry and you require secret-token-123, we can conclude that your requirements are "
     "unsatisfiable.\n",
     "pip could not install the requirements (exit status 1): no version of one of the requirements "
     "could be found for this server; see the server's log"),
    ("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.\n    secret-token-123==1\n",
     "pip could not install the requirements (exit status 1): a downloaded package did not match its "
     "--hash; see the server's log"),
    ("error: subprocess-exited-with-error\n  × Failed building wheel for secret-token-123\n",
     "pip could not install the requirements (exit status 1): a package could not be built; see the "
     "server's log"),
    ("WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError'\n",
     "pip could not install the requirements (exit status 1): the package index could not be reached; see "
     "the server's log"),
    ("ERROR: Invalid requirement: 'secret-token-123 ~~ 1'\n",
     "pip could not install the requirements (exit status 1); see the server's log"),
]


@pytest.mark.parametrize(("output", "message"), INSTALL_FAILURES)
def test_install_failures_are_said_in_our_words(output: str, message: str) -> None:
    said = install_failure("pip", 1, output)
    assert said == message
    assert "secret-token" not in said
