"""Check the cmdlet calls of PowerShell source against Microsoft's documented signatures (signatures.json).

``python -m ps_signatures.check [PATH ...]`` (default: ``plugins/``) prints one finding per line,
``path:line: Module\\Cmdlet: what does not fit``, and exits 1 when there is any. docs/powershell-checks.md
says what is checked and what cannot be; in short, for every call of a cmdlet of the table:

- the cmdlet is documented for every supported host (Windows Server 2016 and later), or the call is
  feature-checked: inside the body of an ``if``/``elseif`` whose condition calls ``Get-Command`` and names
  the cmdlet (or the parameter) as a literal, directly or through a variable assigned from such an
  expression, or on the line after a ``# feature-checked: <why>`` comment;
- it is module-qualified where the rule asks (:data:`QUALIFY_MODULES`, :data:`QUALIFY_CORE`), and the
  qualifier is the cmdlet's module; an alias (``%``, ``?``, ``select``) is reported: scripts spell cmdlets out;
- every named parameter exists, by its full name or an alias (not an abbreviation), or is a common
  parameter; a switch is not followed by a value (``-Force:$x`` is the way to give one), a value parameter has one;
- the named parameters, the literal keys of splatted hashtables and the positional arguments fit at least
  one parameter set on every host, with that set's mandatory parameters given or taken from the pipeline;
- a bare ``Verb-Noun`` command that is neither in the table nor a function of the file (or of the
  collection's module_utils it requires) is reported: a misspelt cmdlet or a module the table lacks.

Property reads (``$vm.CheckpointType``) are checked against ``members.yml`` for the variables whose cmdlet
output type is known: ``$x = <pipeline ending in a table cmdlet>``, ``foreach ($x in <that>)``, ``$_`` in a
script block given to a command that reads that pipeline, ``(<call>).Member``, typed ``param()`` variables,
and chains through members whose type members.yml records.
"""
import json
import os
import pathlib
import re
import sys
from dataclasses import dataclass

import tree_sitter
import tree_sitter_pwsh
import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SIGNATURES = HERE / "signatures.json"
MEMBERS = HERE / "members.yml"

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))

# Common parameters (about_CommonParameters): name -> (is a switch, aliases).
COMMON_PARAMETERS = {
    "Debug": (True, ["db"]),
    "ErrorAction": (False, ["ea"]),
    "ErrorVariable": (False, ["ev"]),
    "InformationAction": (False, ["infa"]),
    "InformationVariable": (False, ["iv"]),
    "OutBuffer": (False, ["ob"]),
    "OutVariable": (False, ["ov"]),
    "PipelineVariable": (False, ["pv"]),
    "Verbose": (True, ["vb"]),
    "WarningAction": (False, ["wa"]),
    "WarningVariable": (False, ["wv"]),
}

# Cmdlets of these modules are written Module\Cmdlet: a bare name binds to whatever module comes first
# (VMware PowerCLI's Get-VM, for one).
QUALIFY_MODULES = {
    "hyper-v", "failoverclusters", "storage", "microsoft.powershell.management",
    "microsoft.powershell.security", "microsoft.powershell.diagnostics",
}
# ... and these of Microsoft.PowerShell.Core (the job and module cmdlets); its pipeline cmdlets may stay bare.
QUALIFY_CORE = re.compile(r"^(?:[a-z]+-job|get-module|import-module|get-command)$", re.I)

# Commands whose output is their input, filtered or reordered: the type flows through them.
PASS_THROUGH = {"where-object", "sort-object"}
# Select-Object passes its input objects through when it only picks some of them (these take a value).
SELECT_PICKS = {"first", "last", "skip", "skiplast", "index"}
SELECT_PICK_SWITCHES = {"unique", "wait"}

# Members every object has in PowerShell (System.Object, and the intrinsic members of PowerShell 3.0+).
UNIVERSAL_MEMBERS = {"tostring", "gettype", "equals", "gethashcode", "count", "length", "psobject",
                     "pstypenames", "psbase", "psadapted", "psextended", "foreach", "where"}
# Output type names that say nothing about members.
OPAQUE_TYPES = {"none", "system.object", "system.management.automation.psobject", "object", "psobject"}

FEATURE_MARKER = re.compile(r"^#\s*feature-checked:\s*\S", re.I)
VERB_NOUN = re.compile(r"^[A-Za-z]+-[A-Za-z][A-Za-z0-9]*$")
QUALIFIED = re.compile(r"^([A-Za-z][\w.-]*)\\([A-Za-z]+-[A-Za-z][A-Za-z0-9]*)$")
REQUIRES_UTIL = re.compile(r"^#AnsibleRequires\s+-PowerShell\s+(\S+)", re.I | re.M)
COLLECTION_UTILS = "ansible_collections.hyperv.backup.plugins.module_utils."


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    cmdlet: str
    message: str

    def __str__(self):
        return f"{self.path}:{self.line}: {self.cmdlet}: {self.message}"


# --- the table -------------------------------------------------------------------------------------------

class Cmdlet:
    """One cmdlet of the table: its module, name and per-docset variants."""

    def __init__(self, key, variants, docset_hosts):
        self.module, self.name = key.split("\\", 1)
        self.key = key
        self.variants = variants
        self.docset_hosts = docset_hosts

    def hosts(self, variant):
        return [h for d in variant["docsets"] for h in self.docset_hosts[d]]

    def variant_for(self, host):
        for variant in self.variants:
            if host in self.hosts(variant):
                return variant
        return None

    @property
    def must_qualify(self):
        if self.module.lower() in QUALIFY_MODULES:
            return True
        return self.module.lower() == "microsoft.powershell.core" and bool(QUALIFY_CORE.match(self.name))

    def outputs(self):
        names = []
        for variant in self.variants:
            names.extend(n for n in variant["outputs"] if n not in names)
        return names


class Table:
    """The signatures of ``signatures.json``, looked up by cmdlet name (case-insensitive)."""

    def __init__(self, data):
        self.hosts = data["hosts"]
        self.docset_hosts = {d: info["hosts"] for s in data["sources"] for d, info in s["docsets"].items()}
        self.modules = {m.lower(): m for s in data["sources"] for m in s["modules"]}
        self.by_name, self.by_alias, self.output_types = {}, {}, set()
        for key, variants in data["cmdlets"].items():
            cmdlet = Cmdlet(key, variants, self.docset_hosts)
            self.output_types.update(o.lower() for o in cmdlet.outputs())
            self.by_name.setdefault(cmdlet.name.lower(), []).append(cmdlet)
            for variant in variants:
                for alias in variant.get("aliases") or []:
                    self.by_alias.setdefault(alias.lower(), []).append(cmdlet)

    def find(self, name, module=None):
        found = self.by_name.get(name.lower(), [])
        if module is not None:
            found = [c for c in found if c.module.lower() == module.lower()]
        return found

    def get(self, key):
        module, name = key.split("\\", 1)
        found = self.find(name, module)
        return found[0] if found else None


_CACHE = {}


def load_table(path=SIGNATURES):
    key = ("table", str(path))
    if key not in _CACHE:
        with open(path, encoding="utf-8") as handle:
            _CACHE[key] = Table(json.load(handle))
    return _CACHE[key]


def load_members(path=MEMBERS):
    """members.yml as ``{type lower: {member lower: {"name", "type"}}}``."""
    key = ("members", str(path))
    if key not in _CACHE:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        _CACHE[key] = members_index(data)
    return _CACHE[key]


def members_index(data):
    index = {}
    for type_name, info in (data.get("types") or {}).items():
        members = {}
        for name, member in ((info or {}).get("members") or {}).items():
            member = member or {}
            members[str(name).lower()] = {"name": str(name), "type": member.get("type")}
        index[str(type_name).lower()] = {"name": str(type_name), "members": members}
    return index


# --- tree helpers ----------------------------------------------------------------------------------------

def text(node):
    return node.text.decode("utf-8", "replace")


def walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def line(node):
    return node.start_point.row + 1


def string_value(node):
    """The value of a literal string or bareword node, or None."""
    while node.type in ("unary_expression", "string_literal", "argument_expression") and node.named_child_count == 1:
        node = node.named_children[0]
    raw = text(node)
    if node.type in ("verbatim_string_characters", "verbatim_string_literal") or (raw[:1] == "'" and raw[-1:] == "'"):
        return raw[1:-1].replace("''", "'") if raw[:1] == "'" else raw
    if node.type == "expandable_string_literal" or (raw[:1] == '"' and raw[-1:] == '"'):
        if "$" in raw or "`" in raw:
            return None
        return raw[1:-1]
    if node.type == "generic_token":
        return raw
    return None


def unwrap(node):
    """Descend through wrappers that do not change the value: (…), @(…), $(…), single-element pipelines."""
    while True:
        if node.type in ("unary_expression", "pipeline", "assignment_value", "statement_list", "argument_expression",
                         "expandable_string_literal") and node.named_child_count == 1:
            node = node.named_children[0]
        elif node.type == "pipeline_chain" and node.named_child_count == 1:
            node = node.named_children[0]
        elif node.type in ("parenthesized_expression", "array_expression", "sub_expression"):
            inner = [c for c in node.named_children]
            if len(inner) != 1:
                return node
            node = inner[0]
        else:
            return node


def command_name_node(command):
    for child in command.children:
        if child.type == "command_name":
            return child
        if child.type == "command_name_expr":
            inner = child.named_children[0] if child.named_child_count else child
            if inner.type in ("command_name", "path_command_name"):
                return inner
            return None
    return None


def command_elements(command):
    for child in command.children:
        if child.type == "command_elements":
            return child
    return None


def pipeline_position(command):
    """``(chain node, index of command in it)``; index 0 is the first command of the pipeline."""
    parent = command.parent
    if parent is None or parent.type != "pipeline_chain":
        return None, 0
    index = 0
    for child in parent.named_children:
        if child.id == command.id:
            break
        index += 1
    return parent, index


def enclosing_scope(node):
    """The function_statement around ``node``, or the root: where its variables live."""
    current = node
    while current.parent is not None:
        current = current.parent
        if current.type == "function_statement":
            return current
    return current


# --- a call, as written ----------------------------------------------------------------------------------

@dataclass
class Argument:
    kind: str  # "parameter", "value", "splat"
    name: str = ""
    node: object = None
    colon: bool = False  # -Name:value


def call_arguments(command):
    """The elements of a command as :class:`Argument`s, in order (redirections dropped)."""
    elements = command_elements(command)
    if elements is None:
        return []
    items = []
    for child in elements.named_children:
        if child.type == "command_argument_sep":
            if text(child).strip() == ":" and items and items[-1].kind == "parameter":
                items[-1].colon = True
            continue
        if child.type in ("redirection", "comment"):
            continue
        if child.type == "command_parameter":
            raw = text(child)
            name = raw[1:].rstrip(":")
            items.append(Argument("parameter", name=name, node=child, colon=raw.endswith(":")))
            continue
        inner = unwrap(child)
        if inner.type == "variable" and text(inner).startswith("@"):
            items.append(Argument("splat", name=text(inner)[1:], node=child))
            continue
        items.append(Argument("value", node=child))
    return items


# --- the checker of one file -----------------------------------------------------------------------------

class FileChecker:
    """The findings of one PowerShell source. ``functions``: names (any case) of functions defined elsewhere
    that the source may call (the collection's module_utils it requires)."""

    def __init__(self, source, path="<source>", table=None, members=None, functions=()):
        if isinstance(source, str):
            source = source.encode("utf-8")
        self.source = source
        self.path = path
        self.table = table or load_table()
        self.members = load_members() if members is None else members
        self.tree = PARSER.parse(source)
        self.root = self.tree.root_node
        self.findings = []
        self.functions = {f.lower() for f in functions}
        self.functions.update(name.lower() for name in defined_functions(self.root))
        self._assignments = None
        self._guards = None
        self._markers = None

    # findings
    def report(self, node, cmdlet, message):
        finding = Finding(self.path, line(node), cmdlet, message)
        if finding not in self.findings:
            self.findings.append(finding)

    def run(self):
        for node in walk(self.root):
            if node.type == "command":
                self.check_command(node)
        self.check_member_reads()
        return sorted(self.findings, key=lambda f: (f.line, f.cmdlet, f.message))

    # --- which cmdlet ----------------------------------------------------------------------------------
    def resolve(self, command):
        """``(written name, qualifier or None, [Cmdlet], via alias)`` of a command, or None when it is not
        a command this checker knows how to read (native programs, script blocks, paths, functions)."""
        name_node = command_name_node(command)
        if name_node is None:
            return None
        written = text(name_node)
        match = QUALIFIED.match(written)
        qualifier, name = (match.group(1), match.group(2)) if match else (None, written)
        if qualifier is None and name.lower() in self.functions:
            return None
        found = self.table.find(name)
        alias = False
        if not found and qualifier is None and name.lower() in self.table.by_alias:
            found, alias = self.table.by_alias[name.lower()], True
        if not found and not (VERB_NOUN.match(name) or qualifier):
            return None
        return written, qualifier, found, alias

    def check_command(self, command):
        resolved = self.resolve(command)
        if resolved is None:
            return
        written, qualifier, found, alias = resolved
        if not found:
            if qualifier:
                known = self.table.modules.get(qualifier.lower())
                where = f"module {known}" if known else "the signature table"
                self.report(command, written, f"no cmdlet {written.split(chr(92))[1]} in {where}")
            else:
                self.report(command, written, "unknown command: not a cmdlet of the signature table nor a function "
                                              "of this file or the module_utils it requires")
            return
        if qualifier is not None:
            right = [c for c in found if c.module.lower() == qualifier.lower()]
            if not right:
                modules = ", ".join(sorted({c.module for c in found}))
                self.report(command, written, f"wrong module qualifier {qualifier}: {found[0].name} is in {modules}")
                label_cmdlets = found
            else:
                label_cmdlets = right
        else:
            label_cmdlets = found
            if alias:
                spelt = found[0].key if found[0].must_qualify else found[0].name
                self.report(command, written, f"alias of {found[0].key}: write {spelt}")
            elif any(c.must_qualify for c in found):
                self.report(command, written, f"not module-qualified: write {found[0].key}")
        self.check_call(command, label_cmdlets)

    # --- guards ----------------------------------------------------------------------------------------
    def guards(self):
        """``[(start byte, end byte, names)]``: the bodies of if/elseif clauses whose condition asks
        Get-Command, with the lower-case literal names the condition mentions."""
        if self._guards is None:
            guard_vars = {}
            for node in walk(self.root):
                if node.type == "assignment_expression":
                    left, value = _assignment_parts(node)
                    if left is not None and left.type == "variable" and value is not None and _asks_get_command(value):
                        guard_vars.setdefault(_var_name(left), set()).update(_literal_names(value))
            self._guards = []
            for node in walk(self.root):
                if node.type not in ("if_statement", "elseif_clause"):
                    continue
                condition = next((c for c in node.named_children if c.type not in ("statement_block", "elseif_clauses",
                                                                                    "else_clause", "comment")), None)
                body = next((c for c in node.named_children if c.type == "statement_block"), None)
                if condition is None or body is None:
                    continue
                names = set()
                if _asks_get_command(condition):
                    names |= _literal_names(condition)
                for sub in walk(condition):
                    if sub.type == "variable" and _var_name(sub) in guard_vars:
                        names |= guard_vars[_var_name(sub)]
                if names:
                    self._guards.append((body.start_byte, body.end_byte, names))
        return self._guards

    def guarded_names(self, node):
        """The names feature-checked around ``node``; ``{"*"}`` under a ``# feature-checked:`` comment."""
        if self._markers is None:
            self._markers = {n.end_point.row for n in walk(self.root)
                             if n.type == "comment" and FEATURE_MARKER.match(text(n))}
        names = set()
        if node.start_point.row - 1 in self._markers:
            names.add("*")
        for start, end, guard in self.guards():
            if start <= node.start_byte < end:
                names |= guard
        return names

    # --- splats ----------------------------------------------------------------------------------------
    def assignments(self):
        """Per scope id: ``{var lower: [(start byte, kind, node)]}``, kind "assign" (node: the value),
        "key" (node: the key name as str, from $v.Key = / $v['Key'] = / $v.Add('Key', ...)), "open" (a key
        or value that cannot be read), "foreach" (node: the collection), "param" (node: the type name)."""
        if self._assignments is None:
            table = {}

            def add(scope, var, start, kind, value):
                table.setdefault(scope.id, {}).setdefault(var, []).append((start, kind, value))

            for node in walk(self.root):
                scope = enclosing_scope(node)
                if node.type == "assignment_expression":
                    left, value = _assignment_parts(node)
                    operator = next((c for c in node.children if c.type == "assignment_operator"), None)
                    plain = operator is not None and text(operator).strip() == "="
                    if left is None:
                        continue
                    if left.type == "variable":
                        add(scope, _var_name(left), node.start_byte, "assign" if plain else "open", value)
                    elif left.type == "member_access":
                        base, member = _member_parts(left)
                        if base is not None and base.type == "variable":
                            add(scope, _var_name(base), node.start_byte, "key" if member else "open", member)
                    elif left.type == "element_access":
                        base = left.named_children[0] if left.named_child_count else None
                        index = left.named_children[1] if left.named_child_count > 1 else None
                        if base is not None and base.type == "variable":
                            key = string_value(index) if index is not None else None
                            add(scope, _var_name(base), node.start_byte, "key" if key else "open", key)
                elif node.type == "invocation_expression":
                    target = node.named_children[0] if node.named_child_count else None
                    member = _invoked_member(node)
                    if target is not None and target.type == "variable" and member and member.lower() == "add":
                        args = _call_args(node)
                        key = string_value(args[0]) if args else None
                        add(scope, _var_name(target), node.start_byte, "key" if key else "open", key)
                elif node.type == "foreach_statement":
                    variable = next((c for c in node.named_children if c.type == "variable"), None)
                    collection = next((c for c in node.named_children if c.type not in ("variable", "statement_block",
                                                                                         "comment")), None)
                    if variable is not None and collection is not None:
                        body = next((c for c in node.named_children if c.type == "statement_block"), node)
                        add(scope, _var_name(variable), body.start_byte, "foreach", collection)
                elif node.type == "script_parameter":
                    variable = next((c for c in node.named_children if c.type == "variable"), None)
                    type_name = None
                    for sub in walk(node):
                        if sub.type == "type_literal":
                            spec = next((c for c in sub.named_children if c.type == "type_spec"), None)
                            if spec is not None:
                                type_name = text(spec)
                    function = enclosing_scope(node)
                    if variable is not None and type_name:
                        add(function, _var_name(variable), function.start_byte, "param", type_name)
            for per_var in table.values():
                for entries in per_var.values():
                    entries.sort(key=lambda e: e[0])
            self._assignments = table
        return self._assignments

    def splat_keys(self, node, name):
        """``(keys, open)``: the literal keys of hashtable ``$name`` splatted at ``node``; ``open`` when some
        keys cannot be known (the variable is not a literal hashtable, or a key is computed)."""
        entries = self.assignments().get(enclosing_scope(node).id, {}).get(name.lower(), [])
        keys, open_, seen_table = [], False, False
        for _, kind, value in entries:
            if kind == "assign":
                literal = _hash_literal(value) if value is not None else None
                if literal is not None:
                    seen_table = True
                    for key in _hash_keys(literal):
                        if key is None:
                            open_ = True
                        elif key not in keys:
                            keys.append(key)
                else:
                    open_ = True
            elif kind == "key":
                if value not in keys:
                    keys.append(value)
            else:
                open_ = True
        return keys, open_ or not seen_table

    # --- one call --------------------------------------------------------------------------------------
    def check_call(self, command, cmdlets):
        arguments = call_arguments(command)
        _, index = pipeline_position(command)
        piped = index > 0
        guard = self.guarded_names(command)
        results = []
        for cmdlet in cmdlets:
            results.append((cmdlet, self.fit_cmdlet(command, cmdlet, arguments, piped, guard)))
        # Several modules with the same cmdlet name (rare): the call is fine if it fits one of them.
        if any(not problems for _, problems in results):
            return
        cmdlet, problems = results[0]
        for message in problems:
            self.report(command, cmdlet.key, message)

    def fit_cmdlet(self, command, cmdlet, arguments, piped, guard):
        """The problems of a call of ``cmdlet`` (empty when it fits on every host it must)."""
        guarded_cmdlet = "*" in guard or cmdlet.name.lower() in guard or cmdlet.key.lower() in guard
        missing_hosts = [h for h in self.table.hosts if cmdlet.variant_for(h) is None]
        problems = []
        if missing_hosts and not guarded_cmdlet:
            have = [h for h in self.table.hosts if h not in missing_hosts]
            problems.append(f"not documented for {', '.join(missing_hosts)} (only {', '.join(have)}): guard the call "
                            f"with Get-Command or a '# feature-checked: <why>' comment on the line before")
        per_variant = []
        for variant in cmdlet.variants:
            hosts = [h for h in cmdlet.hosts(variant) if h in self.table.hosts]
            if not hosts:
                continue
            per_variant.append((hosts, self.fit_variant(command, cmdlet, variant, arguments, piped)))
        fits_somewhere = any(not p for _, p in per_variant)
        for hosts, variant_problems in per_variant:
            if not variant_problems:
                continue
            # A parameter missing on some hosts needs a check that names it (the cmdlet's name is not enough).
            names_guarded = "*" in guard or all(
                any(n.lower() in guard for n in _names_in(msg)) for msg in variant_problems)
            if fits_somewhere and names_guarded:
                continue
            prefix = "" if len(per_variant) == 1 or set(hosts) == set(self.table.hosts) else f"on {', '.join(hosts)}: "
            problems.extend(prefix + p for p in variant_problems)
        return problems

    def fit_variant(self, command, cmdlet, variant, arguments, piped):
        params = variant["parameters"]
        lookup = {}
        for name, info in params.items():
            lookup[name.lower()] = name
            for alias in info.get("aliases") or []:
                lookup.setdefault(alias.lower(), name)
        common = {}
        for name, (_, aliases) in COMMON_PARAMETERS.items():
            common[name.lower()] = name
            for alias in aliases:
                common[alias] = name

        problems = []
        named, positional = [], 0
        open_splat = False
        i = 0
        while i < len(arguments):
            arg = arguments[i]
            if arg.kind == "value":
                positional += 1
                i += 1
                continue
            if arg.kind == "splat":
                keys, open_ = self.splat_keys(command, arg.name)
                open_splat = open_splat or open_
                for key in keys:
                    canonical = lookup.get(key.lower()) or common.get(key.lower())
                    if canonical is None:
                        problems.append(f"splatted key '{key}' of @{arg.name} is not a parameter{_prefix_hint(key, params)}")
                    elif canonical in params:
                        named.append(canonical)
                i += 1
                continue
            # a named parameter
            key = arg.name.lower()
            canonical = lookup.get(key)
            is_common = canonical is None and key in common
            if canonical is None and not is_common:
                problems.append(f"no parameter -{arg.name}{_prefix_hint(arg.name, params)}")
                switch = False
            elif is_common:
                switch = COMMON_PARAMETERS[common[key]][0]
            else:
                switch = params[canonical]["switch"]
            following = arguments[i + 1] if i + 1 < len(arguments) else None
            if arg.colon:
                if following is None or following.kind != "value":
                    problems.append(f"-{arg.name}: has no value after the colon")
                    i += 1
                else:
                    i += 2
            elif switch:
                if following is not None and following.kind == "value":
                    problems.append(f"-{arg.name} is a switch and takes no value: '-{arg.name} {text(following.node)}' "
                                    f"passes {text(following.node)} as a positional argument; write -{arg.name}:"
                                    f"{text(following.node)}")
                i += 1
            else:
                if following is None or following.kind != "value":
                    if canonical is not None or is_common:
                        problems.append(f"-{arg.name} needs a value")
                    i += 1
                else:
                    i += 2
            if canonical is not None:
                if canonical in named:
                    problems.append(f"-{canonical} is given twice")
                named.append(canonical)
        if problems:
            return problems
        return self.fit_sets(cmdlet, variant, named, positional, piped, open_splat)

    def fit_sets(self, cmdlet, variant, named, positional, piped, open_splat):
        sets = variant["sets"]
        reasons = {}
        for set_name, members in sets.items():
            members_lower = {m.lower(): m for m in members}
            outside = [n for n in named if n.lower() not in members_lower]
            if outside:
                reasons[set_name] = ("outside", outside)
                continue
            bound = {n.lower() for n in named}
            slots = sorted((info[1], m) for m, info in members.items() if info[1] is not None and m.lower() not in bound)
            remaining = any(variant["parameters"].get(m, {}).get("remaining") for _, m in slots)
            if positional > len(slots) and not remaining and not open_splat:
                reasons[set_name] = ("positional", len(slots))
                continue
            bound |= {m.lower() for _, m in slots[:positional]}
            pipe_params = [m for m, info in members.items() if info[2] and m.lower() not in bound]
            missing = [m for m, info in members.items()
                       if info[0] and m.lower() not in bound and not (piped and info[2])]
            if missing and not open_splat:
                reasons[set_name] = ("missing", missing)
                continue
            if piped and not pipe_params:
                reasons[set_name] = ("nopipe", None)
                continue
            return []
        return [_describe_no_fit(cmdlet, sets, reasons, named, positional)]

    # --- property reads --------------------------------------------------------------------------------
    def expression_types(self, node, depth=0):
        """``(types, origin)`` of what ``node`` evaluates to, as far as it is known; ``(None, None)`` otherwise."""
        if depth > 12 or node is None:
            return None, None
        node = unwrap(node)
        if node.type == "pipeline_chain":
            commands = [c for c in node.named_children if c.type == "command"]
            if commands and commands[-1] == node.named_children[-1]:
                return self.command_output(commands[-1], depth)
            return None, None
        if node.type == "command":
            return self.command_output(node, depth)
        if node.type == "variable":
            return self.variable_types(node, depth)
        if node.type == "element_access":
            return self.expression_types(node.named_children[0], depth + 1)
        if node.type == "member_access":
            base, member = _member_parts(node)
            types, origin = self.expression_types(base, depth + 1)
            if not types or not member:
                return None, None
            found = []
            for type_name in types:
                info = self.members.get(_element(type_name).lower())
                entry = info["members"].get(member.lower()) if info else None
                if entry and entry.get("type"):
                    found.append(entry["type"])
            return (found, f"{origin}.{member}") if found else (None, None)
        return None, None

    def command_output(self, command, depth):
        resolved = self.resolve(command)
        if resolved is None or not resolved[2]:
            return None, None
        written, _, cmdlets, _ = resolved
        cmdlet = cmdlets[0]
        lower = cmdlet.name.lower()
        passes = lower in PASS_THROUGH or (lower == "select-object" and _only_picks(call_arguments(command)))
        if passes:
            chain, index = pipeline_position(command)
            if chain is None or index == 0:
                return None, None
            return self.command_output(chain.named_children[index - 1], depth + 1) \
                if chain.named_children[index - 1].type == "command" else (None, None)
        outputs = [o for o in cmdlet.outputs() if o.lower() not in OPAQUE_TYPES]
        if not outputs or lower in ("foreach-object", "select-object"):
            return None, None
        if any(a.kind == "parameter" and a.name.lower() == "asjob" for a in call_arguments(command)):
            return None, None  # a job, whatever OUTPUTS says the cmdlet returns without -AsJob
        return outputs, f"output of {cmdlet.key}"

    def variable_types(self, variable, depth):
        name = _var_name(variable)
        if name in ("_", "psitem"):
            return self.pipeline_item(variable, depth)
        scope = enclosing_scope(variable)
        entries = self.assignments().get(scope.id, {}).get(name, [])
        latest = None
        for start, kind, value in entries:
            if kind in ("key",):
                continue
            if start <= variable.start_byte and not (kind != "param" and _inside(variable, value)):
                latest = (kind, value)
        if latest is None:
            return None, None
        kind, value = latest
        if kind == "param":
            # Only the types the table's cmdlets return or members.yml lists: [Hashtable]$x says nothing here.
            if _element(value).lower() in self.members or _element(value).lower() in self.table.output_types:
                return [value], f"parameter ${name}"
            return None, None
        if kind == "foreach":
            types, origin = self.expression_types(value, depth + 1)
            return (types, origin) if types else (None, None)
        if kind == "assign":
            return self.expression_types(value, depth + 1)
        return None, None

    def pipeline_item(self, variable, depth):
        """The type of ``$_`` at ``variable``: the input of the command whose script block argument holds it."""
        node = variable.parent
        while node is not None:
            if node.type in ("catch_clause", "trap_statement", "function_statement", "switch_statement"):
                return None, None
            if node.type == "script_block_expression":
                command = node.parent
                while command is not None and command.type not in ("command", "pipeline_chain", "statement_block"):
                    command = command.parent
                if command is None or command.type != "command":
                    return None, None
                chain, index = pipeline_position(command)
                if chain is None or index == 0:
                    return None, None
                before = chain.named_children[index - 1]
                return self.command_output(before, depth + 1) if before.type == "command" else \
                    self.expression_types(before, depth + 1)
            node = node.parent
        return None, None

    def check_member_reads(self):
        for node in walk(self.root):
            if node.type not in ("member_access", "invocation_expression"):
                continue
            if any(c.type == "::" or text(c) == "::" for c in node.children):
                continue
            if node.type == "member_access":
                base, member = _member_parts(node)
            else:
                base = node.named_children[0] if node.named_child_count else None
                member = _invoked_member(node)
            if base is None or not member or member.lower() in UNIVERSAL_MEMBERS:
                continue
            types, origin = self.expression_types(base)
            if not types:
                continue
            listed = [t for t in types if _element(t).lower() in self.members]
            label = text(base) if len(text(base)) <= 40 else text(base)[:37] + "..."
            if not listed:
                shown = " / ".join(types) if len(types) <= 3 else f"{' / '.join(types[:3])} / ... ({len(types)} types)"
                self.report(node, f"{label}.{member}", f"{shown} ({origin}) has no list of confirmed members in "
                                                      f"tools/ps_signatures/members.yml")
                continue
            if not any(member.lower() in self.members[_element(t).lower()]["members"] for t in listed):
                self.report(node, f"{label}.{member}", f"{' / '.join(listed)} ({origin}) has no member '{member}' "
                                                      f"(tools/ps_signatures/members.yml lists the confirmed ones)")


# --- helpers over nodes ----------------------------------------------------------------------------------

def defined_functions(root):
    names = []
    for node in walk(root):
        if node.type == "function_statement":
            name = next((c for c in node.children if c.type == "function_name"), None)
            if name is not None:
                names.append(text(name))
    return names


def _assignment_parts(node):
    left = next((c for c in node.children if c.type == "left_assignment_expression"), None)
    value = next((c for c in node.children if c.type == "assignment_value"), None)
    if left is not None:
        left = unwrap(left.named_children[0]) if left.named_child_count else None
    return left, value


def _var_name(node):
    name = text(node).lstrip("$@")
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    for prefix in ("script:", "global:", "local:", "private:"):
        if name.lower().startswith(prefix):
            name = name[len(prefix):]
    return name.lower()


def _member_parts(node):
    """``(object node, member name or None)`` of ``X.Member``; None for ``X.$dynamic`` or ``X."quoted"``."""
    base = node.named_children[0] if node.named_child_count else None
    member_node = next((c for c in node.named_children if c.type == "member_name"), None)
    member = None
    if member_node is not None and member_node.named_child_count == 1 and member_node.named_children[0].type == "simple_name":
        member = text(member_node)
    return base, member


def _invoked_member(node):
    member_node = next((c for c in node.named_children if c.type == "member_name"), None)
    if member_node is not None and member_node.named_child_count == 1 and member_node.named_children[0].type == "simple_name":
        return text(member_node)
    return None


def _call_args(node):
    arguments = next((c for c in node.named_children if c.type == "argument_list"), None)
    if arguments is None:
        return []
    expressions = next((c for c in arguments.named_children if c.type == "argument_expression_list"), None)
    return [c for c in expressions.named_children] if expressions is not None else []


def _hash_literal(node):
    """The ``@{...}`` node of ``@{...}``, ``[ordered]@{...}`` or ``[hashtable]@{...}``, or None."""
    node = unwrap(node)
    if node.type == "expression_with_unary_operator" and node.named_child_count == 1:
        node = node.named_children[0]
    if node.type == "cast_expression":
        type_node = next((c for c in node.named_children if c.type == "type_literal"), None)
        if type_node is None or text(type_node).strip("[] ").lower() not in (
                "ordered", "hashtable", "system.collections.hashtable"):
            return None
        node = unwrap(node.named_children[-1])
    return node if node.type == "hash_literal_expression" else None


def _hash_keys(node):
    """The keys of a ``@{...}`` literal; None for a key that is not a literal."""
    keys = []
    body = next((c for c in node.named_children if c.type == "hash_literal_body"), None)
    if body is None:
        return keys
    for entry in body.named_children:
        if entry.type != "hash_entry":
            continue
        key_node = next((c for c in entry.named_children if c.type == "key_expression"), None)
        if key_node is None:
            keys.append(None)
            continue
        inner = key_node.named_children[0] if key_node.named_child_count == 1 else key_node
        value = string_value(inner)
        if value is None and inner.type in ("simple_name", "generic_token", "key_expression") and re.match(r"^\w+$", text(inner)):
            value = text(inner)
        keys.append(value)
    return keys


def _asks_get_command(node):
    for sub in walk(node):
        if sub.type == "command":
            name = command_name_node(sub)
            if name is not None and text(name).split("\\")[-1].lower() in ("get-command", "gcm"):
                return True
    return False


def _literal_names(node):
    """Lower-case literal names in an expression: barewords, strings, member names (and the cmdlet part of
    ``Module\\Cmdlet``)."""
    names = set()
    for sub in walk(node):
        value = None
        if sub.type in ("generic_token", "simple_name"):
            value = text(sub)
        elif sub.type == "string_literal":
            value = string_value(sub)
        if value:
            names.add(value.lower())
            if "\\" in value:
                names.add(value.split("\\")[-1].lower())
    return names


def _only_picks(arguments):
    """Whether Select-Object's arguments only pick objects (-First 1, -Unique), leaving them as they are:
    no -Property, -ExpandProperty or positional property names."""
    values = 0
    for arg in arguments:
        if arg.kind == "parameter":
            name = arg.name.lower()
            if name in SELECT_PICKS:
                values -= 1
            elif name not in SELECT_PICK_SWITCHES and name not in (n.lower() for n in COMMON_PARAMETERS):
                return False
            elif name in (n.lower() for n, (switch, _) in COMMON_PARAMETERS.items() if not switch):
                values -= 1
        elif arg.kind == "value":
            values += 1
        else:
            return False
    return values <= 0


def _inside(node, container):
    return container is not None and container.start_byte <= node.start_byte < container.end_byte


def _element(type_name):
    return type_name[:-2] if type_name.endswith("[]") else type_name


def _names_in(message):
    """Parameter names a problem message is about (``-Name``), for matching feature checks."""
    return re.findall(r"(?<![\w-])-(\w+)", message)


def _prefix_hint(name, params):
    matches = [p for p in params if p.lower().startswith(name.lower())]
    if len(matches) == 1:
        return f" (an abbreviation of -{matches[0]}: write it in full)"
    return ""


def _describe_no_fit(cmdlet, sets, reasons, named, positional):
    named_text = ", ".join(f"-{n}" for n in named) or "no named parameters"
    parts = []
    for set_name, (kind, detail) in reasons.items():
        label = "" if len(sets) == 1 else f"{set_name}: "
        if kind == "outside":
            parts.append(f"{label}no {', '.join('-' + d for d in detail)}")
        elif kind == "positional":
            parts.append(f"{label}takes {detail} positional argument{'s' if detail != 1 else ''}, not {positional}")
        elif kind == "missing":
            parts.append(f"{label}mandatory {', '.join('-' + d for d in detail)} missing")
        elif kind == "nopipe":
            parts.append(f"{label}takes no pipeline input")
    if len(sets) == 1:
        return f"does not fit its parameters ({named_text}): {'; '.join(parts)}"
    return f"fits no parameter set with {named_text}: {'; '.join(parts)}"


# --- files of the collection -----------------------------------------------------------------------------

def required_utils(source, path):
    """The collection's module_utils files a module requires (``#AnsibleRequires -PowerShell ..module_utils.X``
    or ``ansible_collections.hyperv.backup.plugins.module_utils.X``)."""
    found = []
    plugins = pathlib.Path(path).resolve().parent.parent
    for match in REQUIRES_UTIL.finditer(source if isinstance(source, str) else source.decode("utf-8", "replace")):
        name = match.group(1)
        if name.startswith("..module_utils."):
            util = name[len("..module_utils."):]
        elif name.startswith(COLLECTION_UTILS):
            util = name[len(COLLECTION_UTILS):]
        else:
            continue
        candidate = plugins / "module_utils" / f"{util}.psm1"
        if candidate.is_file():
            found.append(candidate)
    return found


def powershell_files(root=ROOT / "plugins"):
    return sorted(p for p in pathlib.Path(root).rglob("*") if p.suffix.lower() in (".ps1", ".psm1") and p.is_file())


def check_file(path, table=None, members=None, relative_to=ROOT):
    path = pathlib.Path(path)
    source = path.read_bytes()
    functions = []
    for util in required_utils(source, path):
        functions.extend(defined_functions(PARSER.parse(util.read_bytes()).root_node))
    try:
        shown = str(path.resolve().relative_to(relative_to))
    except ValueError:
        shown = str(path)
    return FileChecker(source, shown, table, members, functions).run()


def check_source(source, path="<source>", functions=(), table=None, members=None):
    """The findings of PowerShell ``source`` (str or bytes)."""
    return FileChecker(source, path, table, members, functions).run()


# --- which cmdlets a module uses (for hvsim's correspondence) -----------------------------------------------

def cmdlets_called(source, table=None, functions=()):
    """``(top-level cmdlets, {function lower: cmdlets}, {function lower: functions it calls}, top-level
    functions called)``: the table cmdlets (keys ``Module\\Cmdlet``) a source calls, outside and inside each
    function, and the calls between functions. ``functions`` are names defined elsewhere."""
    checker = FileChecker(source, table=table, members={}, functions=functions)
    own = {n.lower() for n in defined_functions(checker.root)}
    known = own | {f.lower() for f in functions}
    top, per_function, calls, top_calls = set(), {}, {}, set()
    for node in walk(checker.root):
        if node.type != "command":
            continue
        scope = enclosing_scope(node)
        owner = None
        if scope.type == "function_statement":
            owner = text(next(c for c in scope.children if c.type == "function_name")).lower()
        name_node = command_name_node(node)
        if name_node is None:
            continue
        name = text(name_node)
        if name.lower() in known:
            (calls.setdefault(owner, set()) if owner else top_calls).add(name.lower())
            continue
        resolved = checker.resolve(node)
        if resolved is None or not resolved[2]:
            continue
        _, qualifier, cmdlets, _ = resolved
        chosen = [c for c in cmdlets if qualifier is None or c.module.lower() == qualifier.lower()] or cmdlets
        (per_function.setdefault(owner, set()) if owner else top).add(chosen[0].key)
    return top, per_function, calls, top_calls


def module_cmdlets(path, table=None):
    """The table cmdlets a module ``.ps1`` calls: its own (every function of the file included) and those of
    the module_utils functions it calls, directly or through each other."""
    path = pathlib.Path(path)
    source = path.read_bytes()
    util_functions, util_calls = {}, {}
    for util in required_utils(source, path):
        _, per_function, calls, _ = cmdlets_called(util.read_bytes(), table)
        for name in defined_functions(PARSER.parse(util.read_bytes()).root_node):
            util_functions[name.lower()] = per_function.get(name.lower(), set())
            util_calls[name.lower()] = calls.get(name.lower(), set())
    top, per_function, calls, top_calls = cmdlets_called(source, table, functions=list(util_functions))
    used = set(top)
    for cmdlets in per_function.values():
        used |= cmdlets
    pending = set(top_calls)
    for called in calls.values():
        pending |= called
    seen = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in util_functions:
            continue
        seen.add(name)
        used |= util_functions[name]
        pending |= util_calls.get(name, set())
    return used


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    paths = []
    for arg in argv or [str(ROOT / "plugins")]:
        p = pathlib.Path(arg)
        paths.extend(powershell_files(p) if p.is_dir() else [p])
    findings = []
    for path in paths:
        findings.extend(check_file(path, relative_to=pathlib.Path(os.getcwd()).resolve()))
    for finding in findings:
        print(finding)
    print(f"{len(paths)} files, {len(findings)} findings", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
