"""Every PowerShell file of the collection parses, uses no Invoke-Expression, and modules load Ansible.Basic.

No PowerShell runs here, so the files are parsed with tree-sitter-pwsh: a file with a syntax error would
fail on every host, and this finds it first.
"""
import pathlib
import re

import pytest
import tree_sitter
import tree_sitter_pwsh

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
MODULES = PLUGINS / "modules"

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))

# Commands that run text as code: values must reach PowerShell as typed parameters instead.
FORBIDDEN_COMMANDS = {"invoke-expression", "iex"}
ANSIBLE_BASIC = re.compile(r"^#AnsibleRequires\s+-CSharpUtil\s+Ansible\.Basic\s*$", re.IGNORECASE | re.MULTILINE)


def parse(source):
    """The tree-sitter tree of PowerShell ``source`` (str or bytes)."""
    if isinstance(source, str):
        source = source.encode("utf-8")
    return PARSER.parse(source)


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _innermost(node):
    """The first ERROR or MISSING node inside ``node`` (itself if none): the closest place to the mistake."""
    for child in node.children:
        if child.is_error or child.is_missing or child.has_error:
            return _innermost(child)
    return node


def first_syntax_error(source):
    """``None`` when ``source`` parses cleanly, else ``"line L, column C: <what>"`` (1-based) of the first error."""
    tree = parse(source)
    root = tree.root_node
    if not root.has_error:
        return None
    node = _innermost(root)
    line, column = node.start_point.row + 1, node.start_point.column + 1
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    lines = text.splitlines()
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    what = f"missing {node.type!r}" if node.is_missing else "unexpected text"
    return f"line {line}, column {column}: {what} near {shown!r}"


def forbidden_commands(source):
    """``[(line, name), ...]`` of the commands in ``source`` that run text as code."""
    found = []
    for node in _walk(parse(source).root_node):
        if node.type == "command_name" and node.text.decode("utf-8", "replace").lower() in FORBIDDEN_COMMANDS:
            found.append((node.start_point.row + 1, node.text.decode("utf-8", "replace")))
    return found


def powershell_files():
    return sorted(p for p in PLUGINS.rglob("*") if p.suffix.lower() in (".ps1", ".psm1") and p.is_file())


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_there_are_powershell_files():
    assert (MODULES / "host_facts.ps1") in powershell_files()


@pytest.mark.parametrize("path", powershell_files(), ids=_ids(powershell_files()))
def test_parses_without_errors(path):
    error = first_syntax_error(path.read_bytes())
    assert error is None, f"{path.relative_to(ROOT)}: {error}"


@pytest.mark.parametrize("path", powershell_files(), ids=_ids(powershell_files()))
def test_no_invoke_expression(path):
    found = forbidden_commands(path.read_bytes())
    assert found == [], f"{path.relative_to(ROOT)} runs text as code: {found}"


@pytest.mark.parametrize("path", sorted(MODULES.glob("*.ps1")), ids=_ids(sorted(MODULES.glob("*.ps1"))))
def test_modules_require_ansible_basic(path):
    text = path.read_text(encoding="utf-8")
    assert ANSIBLE_BASIC.search(text), f"{path.relative_to(ROOT)} lacks '#AnsibleRequires -CSharpUtil Ansible.Basic'"
    assert "[Ansible.Basic.AnsibleModule]::Create(" in text, f"{path.relative_to(ROOT)} does not create its module"


# The checks themselves: each must fail on a file that is wrong.

@pytest.mark.parametrize(
    "source, where",
    [
        ("$a = 1\nif ($x { 'y' }\n", "line 2, column 5"),
        ("$spec = @{\n    options = @{ a = 1\n", "line 1"),
        ("function Get-Thing {\n    param ($Name)\n", "line 2, column 18: missing '}'"),
    ],
)
def test_a_syntax_error_is_found_and_located(source, where):
    error = first_syntax_error(source)
    assert error is not None
    assert error.startswith(where), error


def test_valid_source_has_no_error():
    assert first_syntax_error("$h = @{ a = @(1, 2) }\nforeach ($k in $h.Keys) { Write-Output $k }\n") is None


def test_invoke_expression_is_found_in_any_spelling():
    source = "$x = 'Get-VM'\nInvoke-Expression -Command $x\n$x | IEX\n& iex $x\nWrite-Output 'iex is fine in text'\n"
    assert forbidden_commands(source) == [(2, "Invoke-Expression"), (3, "IEX"), (4, "iex")]


def test_ansible_basic_requirement_pattern():
    assert ANSIBLE_BASIC.search("#!powershell\n\n#AnsibleRequires -CSharpUtil Ansible.Basic\n")
    assert not ANSIBLE_BASIC.search("#!powershell\n# AnsibleRequires is not here\n")
