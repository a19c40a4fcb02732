"""Every variable a PowerShell file reads is assigned somewhere in that file (or is automatic).

Ansible runs modules without strict mode, so reading a variable that was never assigned gives ``$null``
silently: ``$roles.Add($role)`` on a list whose initialisation was lost fails on a real host only, and
hvsim, which runs the Python side of the contract, cannot see it. No PowerShell runs here, so this reads
the files with tree-sitter-pwsh. It is flow-insensitive (an assignment anywhere in the file counts), so
it finds a missing initialisation or a misspelt name, not an assignment that comes too late.

A ``.ps1`` is one scope for this check (its functions see its script variables); a ``.psm1`` is checked
on its own (a module's functions do not see the caller's variables).
"""
import pathlib

import pytest

from tests.sanity.test_ps_parse import parse, powershell_files

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Variables PowerShell sets itself (about_Automatic_Variables, about_Preference_Variables), in lower case.
AUTOMATIC = {
    "_", "psitem", "args", "input", "this", "true", "false", "null", "matches", "lastexitcode", "error",
    "erroractionpreference", "warningpreference", "verbosepreference", "progresspreference", "psversiontable",
    "psscriptroot", "pscommandpath", "pscmdlet", "myinvocation", "host", "pid", "home", "pwd",
    "executioncontext", "?", "^", "$", "psboundparameters", "foreach", "switch", "event", "sender",
    "eventargs", "nestedpromptlevel", "shellid", "psculture", "psuiculture", "stacktrace", "psitem",
}
# Common parameters whose argument names a variable the command assigns (about_CommonParameters).
ASSIGNING_PARAMETERS = {"-errorvariable", "-warningvariable", "-informationvariable", "-outvariable",
                        "-pipelinevariable"}
SCOPES = ("script:", "global:", "local:", "private:", "using:")


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _name(node):
    """``$script:Foo`` / ``${Foo}`` / ``@Foo`` -> ``foo``; ``None`` for ``$env:...`` and other drives."""
    text = node.text.decode("utf-8", "replace")
    text = text.lstrip("$@")
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    lowered = text.lower()
    for scope in SCOPES:
        if lowered.startswith(scope):
            return lowered[len(scope):]
    if ":" in lowered:  # $env:COMPUTERNAME, $function:..., $variable:...
        return None
    return lowered


def _assigned_variables(left):
    """The variables an assignment's left side assigns (not ``$h.Key = ...``, which only reads ``$h``)."""
    node = left
    while node.type in ("left_assignment_expression", "unary_expression", "expression_with_unary_operator") \
            and node.named_child_count == 1:
        node = node.named_children[0]
    if node.type == "variable":
        return [node]
    if node.type == "array_literal_expression":  # $a, $b = ...
        return [c.named_children[0] for c in node.named_children
                if c.type == "unary_expression" and c.named_child_count == 1 and c.named_children[0].type == "variable"]
    if node.type == "cast_expression":  # [int]$x = ...
        return [c for c in _walk(node) if c.type == "variable"][:1]
    return []


def variable_problems(source):
    """``[(line, name)]`` of the variables ``source`` reads but never assigns, first use of each."""
    tree = parse(source)
    assigned, used = set(), {}
    for node in _walk(tree.root_node):
        if node.type == "left_assignment_expression":
            for variable in _assigned_variables(node):
                assigned.add(_name(variable))
        elif node.type == "foreach_statement":
            iterator = next((c for c in node.named_children if c.type == "variable"), None)
            if iterator is not None:
                assigned.add(_name(iterator))
        elif node.type == "script_parameter":
            parameter = next((c for c in node.named_children if c.type == "variable"), None)
            if parameter is not None:
                assigned.add(_name(parameter))
        elif node.type == "command_elements":
            children = [c for c in node.named_children if c.type != "command_argument_sep"]
            for flag, value in zip(children, children[1:]):
                if flag.type == "command_parameter" and flag.text.decode().lower().rstrip(":") in ASSIGNING_PARAMETERS:
                    assigned.add(value.text.decode().strip("'\"").lstrip("+").lower())
    for node in _walk(tree.root_node):
        if node.type != "variable":
            continue
        name = _name(node)
        if name is None or name in AUTOMATIC or name in assigned:
            continue
        used.setdefault(name, node.start_point.row + 1)
    return sorted((line, name) for name, line in used.items())


@pytest.mark.parametrize("path", powershell_files(), ids=[str(p.relative_to(ROOT)) for p in powershell_files()])
def test_every_variable_read_is_assigned(path):
    problems = variable_problems(path.read_bytes())
    assert problems == [], (
        f"{path.relative_to(ROOT)} reads variables it never assigns (a lost initialisation or a misspelt name; "
        f"without strict mode they are silently $null): " + ", ".join(f"line {line} ${name}" for line, name in problems)
    )


# The check itself.

def test_a_lost_initialisation_is_found():
    source = (
        "$roles = [System.Collections.Generic.List[Object]]@()\n"
        "foreach ($group in $groups) { $roles.Add($group) }\n"
        "$byId.ContainsKey('x')\n"
    )
    assert variable_problems(source) == [(2, "groups"), (3, "byid")]


def test_a_misspelt_name_in_a_string_is_found():
    assert variable_problems('$node = "HV01"\n$msg = "failed on $nodee: $($module.Name)"\n') == [(2, "module"), (2, "nodee")]


@pytest.mark.parametrize("source", [
    "param ($VM, [int]$Timeout)\n$VM.Name; $Timeout\n",
    "function F { param ([String]$Name)\n $Name }\n",
    "foreach ($item in @(1, 2)) { $item }\n",
    "$a, $b = 1, 2\n$a + $b\n",
    "[int]$count = 3\n$count\n",
    "Get-Thing -ErrorVariable jobError\n$jobError\n",
    "Get-Thing -ErrorVariable +jobError\n$jobError\n",
    "$script:total = 0\n$total; $script:total\n",
    "$h = @{}\n$h.Key = 5\n@h\n",
    "$env:COMPUTERNAME; $_; $PSItem; $args; $true; $false; $null; $LASTEXITCODE; $Matches\n",
    "$list = @()\n$job = Start-Job -ScriptBlock { $using:list }\n",
])
def test_what_is_assigned_or_automatic_passes(source):
    assert variable_problems(source) == []


def test_a_member_assignment_does_not_assign_the_variable():
    assert variable_problems("$h.Key = 5\n") == [(1, "h")]
