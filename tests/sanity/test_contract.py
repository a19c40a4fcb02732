"""docs/windows-contract.md, plugins/modules/*.ps1 and hvsim's operations describe the same modules.

For every module section of the contract: the PowerShell module exists, hvsim implements an operation of
that name, and the options the .ps1 declares in its ``$spec`` are the options of the operation's SPEC
(names at every level; types, choices, defaults and required where the .ps1 spells them as literals).
hvsim plays the host, so it imports nothing from the collection.
"""
import pathlib
import re

import pytest

from tests.sanity.test_ps_parse import first_syntax_error, parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "windows-contract.md"
MODULES = ROOT / "plugins" / "modules"
HVSIM = ROOT / "tools" / "hvsim"

NOT_MODULES = {"conventions", "what only a real host can confirm"}


def contract_modules(text=None):
    """The module names of the contract's ``## <name>`` sections, in order."""
    if text is None:
        text = CONTRACT.read_text(encoding="utf-8")
    names = []
    for match in re.finditer(r"^##\s+(.+?)\s*$", text, re.MULTILINE):
        name = match.group(1).strip().strip("`")
        if name.lower() not in NOT_MODULES:
            names.append(name)
    return names


# --- the $spec of a .ps1, read with tree-sitter --------------------------------------------------------

class Unknown:
    """A value the .ps1 computes (a variable, an expression): its name is known, not its value."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"Unknown({self.text!r})"


def _text(node):
    return node.text.decode("utf-8", "replace")


def _unwrap(node):
    """Descend through single-child wrappers (pipeline, pipeline_chain, unary_expression, ...)."""
    while node.type in ("pipeline", "pipeline_chain", "unary_expression", "assignment_value",
                        "array_literal_expression", "parenthesized_expression") and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def _key(node):
    text = _text(node).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


def _value(node, variables=None):
    """A Python value for a literal PowerShell expression; :class:`Unknown` for anything else.

    ``variables`` maps lower-case variable names (``$subsets``) to the literal values assigned to them.
    """
    variables = variables or {}
    node = _unwrap(node)
    text = _text(node)
    if node.type == "hash_literal_expression":
        return _hash(node, variables)
    if node.type == "string_literal":
        return _key(node)
    if node.type == "integer_literal":
        try:
            return int(text)
        except ValueError:
            return Unknown(text)
    if node.type == "variable" and text.lower() in ("$true", "$false", "$null"):
        return {"$true": True, "$false": False, "$null": None}[text.lower()]
    if node.type == "variable" and text.lower() in variables:
        return variables[text.lower()]
    if node.type == "array_expression":  # @(...)
        items = []
        for child in _walk(node):
            if child.type == "string_literal":
                items.append(_key(child))
            elif child.type == "variable":
                return Unknown(text)
        return items
    return Unknown(text)


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _hash(node, variables):
    """The entries of a ``@{ ... }`` node as a dict (keys as written, values through :func:`_value`)."""
    result = {}
    body = next((c for c in node.named_children if c.type == "hash_literal_body"), None)
    if body is None:
        return result
    for entry in body.named_children:
        if entry.type != "hash_entry":
            continue
        key_node = next(c for c in entry.named_children if c.type == "key_expression")
        value_node = entry.named_children[-1]
        result[_key(key_node)] = _value(value_node, variables)
    return result


def ps1_spec(source):
    """The ``$spec = @{ ... }`` hashtable of a module's source, as a dict."""
    tree = parse(source)
    variables = {}  # literal values assigned before $spec, such as a list of choices
    for node in _walk(tree.root_node):
        if node.type != "assignment_expression":
            continue
        left = next((c for c in node.named_children if c.type == "left_assignment_expression"), None)
        value = next((c for c in node.named_children if c.type == "assignment_value"), None)
        if left is None or value is None:
            continue
        name = _text(left).strip().lower()
        if name != "$spec":
            literal = _value(value, variables)
            if not isinstance(literal, Unknown) and re.fullmatch(r"\$\w+", name):
                variables[name] = literal
            continue
        spec = _value(value, variables)
        if isinstance(spec, dict):
            return spec
    raise AssertionError("no '$spec = @{ ... }' hashtable found")


def spec_differences(ps_options, py_options, where="options"):
    """Where the option declarations differ: names at every level, and literal types."""
    problems = []
    ps_names, py_names = set(ps_options), set(py_options)
    if ps_names != py_names:
        problems.append(f"{where}: the .ps1 has {sorted(ps_names)}, hvsim has {sorted(py_names)}")
    for name in sorted(ps_names & py_names):
        ps_opt, py_opt = ps_options[name], py_options[name]
        if not isinstance(ps_opt, dict):
            problems.append(f"{where}.{name}: not a literal hashtable in the .ps1 ({ps_opt!r})")
            continue
        ps_type = ps_opt.get("type", "str")
        if isinstance(ps_type, str) and ps_type != py_opt.get("type", "str"):
            problems.append(f"{where}.{name}: type {ps_type!r} in the .ps1, {py_opt.get('type', 'str')!r} in hvsim")
        ps_elements = ps_opt.get("elements")
        if isinstance(ps_elements, str) and ps_elements != py_opt.get("elements"):
            problems.append(f"{where}.{name}: elements {ps_elements!r} in the .ps1, {py_opt.get('elements')!r} in hvsim")
        for key, unset in (("choices", None), ("default", None), ("required", False)):
            ps_value, py_value = ps_opt.get(key, unset), py_opt.get(key, unset)
            if not isinstance(ps_value, Unknown) and ps_value != py_value:
                problems.append(f"{where}.{name}: {key} {ps_value!r} in the .ps1, {py_value!r} in hvsim")
        ps_sub, py_sub = ps_opt.get("options"), py_opt.get("options")
        if isinstance(ps_sub, dict) or py_sub:
            problems += spec_differences(ps_sub if isinstance(ps_sub, dict) else {}, py_sub or {}, f"{where}.{name}")
    return problems


# --- the tests ------------------------------------------------------------------------------------------

def _operations():
    import hvsim.ops

    return hvsim.ops.load_all()


def test_the_contract_names_modules():
    assert "host_facts" in contract_modules()


@pytest.mark.parametrize("name", contract_modules())
def test_powershell_module_exists(name):
    path = MODULES / f"{name}.ps1"
    assert path.is_file(), f"docs/windows-contract.md describes '{name}' but plugins/modules/{name}.ps1 does not exist"


@pytest.mark.parametrize("name", contract_modules())
def test_hvsim_implements_it(name):
    operations = _operations()
    assert name in operations, (
        f"docs/windows-contract.md describes '{name}' but hvsim registers no operation of that name "
        f"(tools/hvsim/ops/{name}.py); it has {sorted(operations)}"
    )


@pytest.mark.parametrize("name", contract_modules())
def test_ps1_spec_matches_hvsim_spec(name):
    path = MODULES / f"{name}.ps1"
    operations = _operations()
    if not path.is_file() or name not in operations:
        pytest.fail(f"'{name}' needs both plugins/modules/{name}.ps1 and an hvsim operation to compare")
    source = path.read_bytes()
    assert first_syntax_error(source) is None
    ps = ps1_spec(source)
    py = operations[name].spec
    assert isinstance(ps.get("options"), dict), f"{path.name}: $spec has no literal 'options' hashtable"
    assert spec_differences(ps["options"], py.get("options", {})) == []
    assert ps.get("supports_check_mode", False) == py.get("supports_check_mode", False)


def test_every_powershell_module_is_in_the_contract():
    described = set(contract_modules())
    present = {p.stem for p in MODULES.glob("*.ps1")}
    assert present - described == set(), "PowerShell modules missing from docs/windows-contract.md"


IMPORT_FROM_COLLECTION = re.compile(
    r"^\s*(?:from\s+(?:ansible_collections|plugins)(?:\.|\s)|import\s+(?:ansible_collections|plugins)\b)"
    r"|import_module\(\s*['\"](?:ansible_collections|plugins)[.'\"]",
    re.MULTILINE,
)


def collection_imports(text):
    """The lines of Python source ``text`` that import from the collection (``ansible_collections``, ``plugins``)."""
    return [m.group(0).strip() for m in IMPORT_FROM_COLLECTION.finditer(text)]


def test_hvsim_imports_nothing_from_the_collection():
    offenders = {}
    for path in sorted(HVSIM.rglob("*.py")):
        found = collection_imports(path.read_text(encoding="utf-8"))
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


# The checks themselves: each must fail on input that is wrong.

def test_contract_sections_are_read():
    text = "# T\n\n## Conventions\n\n- x\n\n## alpha\n\n### Arguments\n\n## `beta`\n"
    assert contract_modules(text) == ["alpha", "beta"]


def test_spec_extraction_and_comparison():
    source = """
$choices = @('a', 'b')
$spec = @{
    options = @{
        names = @{ type = 'list'; elements = 'str'; choices = $choices; default = $choices }
        'operations' = @{
            type = 'list'
            elements = 'dict'
            required = $true
            options = @{
                id = @{ type = 'str'; required = $true }
                count = @{ type = 'int' }
            }
        }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
"""
    spec = ps1_spec(source)
    assert spec["supports_check_mode"] is True
    assert set(spec["options"]) == {"names", "operations"}
    assert spec["options"]["operations"]["required"] is True
    assert spec["options"]["names"]["choices"] == ["a", "b"]
    assert isinstance(ps1_spec("$spec = @{ options = @{ a = @{ default = $x } } }")["options"]["a"]["default"], Unknown)
    matching = {
        "names": {"type": "list", "elements": "str", "choices": ["a", "b"], "default": ["a", "b"]},
        "operations": {"type": "list", "elements": "dict", "required": True,
                       "options": {"id": {"type": "str", "required": True}, "count": {"type": "int"}}},
    }
    rechosen = dict(matching, names=dict(matching["names"], choices=["a", "c"]))
    assert spec_differences(spec["options"], rechosen) == [
        "options.names: choices ['a', 'b'] in the .ps1, ['a', 'c'] in hvsim"]
    assert spec_differences(spec["options"], matching) == []
    renamed = dict(matching, operations=dict(matching["operations"], options={
        "id": {"type": "str", "required": True}, "number": {"type": "int"}}))
    assert spec_differences(spec["options"], renamed) == [
        "options.operations: the .ps1 has ['count', 'id'], hvsim has ['id', 'number']"]
    retyped = dict(matching, names={"type": "str", "choices": ["a", "b"], "default": ["a", "b"]})
    assert spec_differences(spec["options"], retyped) == ["options.names: type 'list' in the .ps1, 'str' in hvsim",
                                                          "options.names: elements 'str' in the .ps1, None in hvsim"]
    assert spec_differences({}, {"extra": {"type": "str"}}) == ["options: the .ps1 has [], hvsim has ['extra']"]


def test_collection_imports_are_found():
    text = (
        "import os\n"
        "from ansible_collections.hyperv.backup.plugins.plugin_utils import _sid\n"
        "    import plugins.filter.vm_sid\n"
        "mod = importlib.import_module('ansible_collections.hyperv.backup')\n"
        "PREFIX = 'ansible_collections.hyperv.backup.plugins.modules.'\n"
        "from pluginsx import y\n"
    )
    assert collection_imports(text) == [
        "from ansible_collections.",
        "import plugins",
        "import_module('ansible_collections.",
    ]
