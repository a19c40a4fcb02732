"""Read one cmdlet reference page (platyPS markdown) into a signature: plain functions over text.

The pages come from two Microsoft repositories (docs/powershell-checks.md):

- MicrosoftDocs/windows-powershell-docs, ``docset/winserver<year>-ps/<Module>/<Cmdlet>.md`` (Hyper-V,
  FailoverClusters, Storage, ...; one docset per Windows Server release);
- MicrosoftDocs/PowerShell-Docs, ``reference/5.1/<Module>/<Cmdlet>.md`` (the Windows PowerShell 5.1 modules
  that every supported host runs).

A page has a ``## SYNTAX`` section with one code block per parameter set (a ``### <set>`` heading before
each, none when the cmdlet has a single set), a ``## PARAMETERS`` section with one ``### -<Name>`` entry per
parameter and a yaml block describing it, and ``## OUTPUTS`` with one ``### <type>`` heading per output type.

What each part gives, and the quirks handled:

- SYNTAX gives the parameter sets, which parameters each set has, and whether each is mandatory and
  positional there: ``-Name <T>`` mandatory, ``[-Name <T>]`` optional, ``[-Name] <T>`` mandatory and
  positional, ``[[-Name] <T>]`` optional and positional, ``[-Switch]`` / ``-Switch`` switches,
  ``[<CommonParameters>]`` the common parameters. Headings are ``Name (Default)``, ``__AllParameterSets``,
  ``Query (cdxml) (Default)``, or provider-specific ``Path (Default) - Registry provider`` (the provider's
  dynamic parameters appear only in that provider's blocks); a page with one set has no heading.
- PARAMETERS gives each parameter's type, aliases, position numbers and pipeline input, either in the
  classic form (``Type:``, ``Parameter Sets: (All)`` or ``A, B``, ``Aliases:``, ``Required: True`` or
  ``True (A), False (B)``, ``Position: 0`` / ``Named``, ``Accept pipeline input: True (ByValue)``; a
  parameter whose position or pipeline input differs per set has one yaml block per set) or the
  PlatyPS 2024 form (``ParameterSets:`` a list of ``{Name, Position, IsRequired, ValueFromPipeline, ...}``).
- Switches are parameters of type ``SwitchParameter`` (or ``System.Management.Automation.SwitchParameter``).

Set membership comes from SYNTAX (the per-set view); PARAMETERS adds types, aliases, position numbers
and pipeline input. Where the two disagree the stricter reading is kept: a parameter is mandatory in a set
when either says so (platyPS brackets mandatory switches in SYNTAX: ``[-ManagementOS]`` of
Get-VMNetworkAdapter is ``Required: True``), and positional only when SYNTAX shows it positional.
Disagreements are returned as ``notes`` so the generator can report them.
"""
import re

import yaml

ALL_SETS = "(All)"
SINGLE_SET = "__AllParameterSets"

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_H2 = re.compile(r"^## +(.+?)\s*$", re.M)
_H3 = re.compile(r"^### +(.+?)\s*$", re.M)
_FENCE = re.compile(r"^```[ \t]*([\w-]*)[ \t]*\n(.*?)^```", re.M | re.S)
_DEFAULT = re.compile(r"\s*\(Default\)", re.I)
_PROVIDER = re.compile(r"\s+-\s+((.+?)\s+providers?)\s*$", re.I)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")

# The SYNTAX forms, most specific first. Groups: name, type.
_SYNTAX_TOKENS = [
    ("optional_positional", re.compile(r"\[\[-([\w-]+)\]\s*<([^>]*)>\s*\]")),
    ("mandatory_positional", re.compile(r"\[-([\w-]+)\]\s*<([^>]*)>")),
    ("optional_named", re.compile(r"\[-([\w-]+)\s+<([^>]*)>\s*\]")),
    ("common", re.compile(r"\[?<CommonParameters>\]?", re.I)),
    ("optional_switch", re.compile(r"\[-([\w-]+)\s*\]")),
    ("mandatory_named", re.compile(r"-([\w-]+)\s+<([^>]*)>")),
    ("mandatory_switch", re.compile(r"-([\w-]+)(?=\s|$)")),
]


class PageError(ValueError):
    """A page that is not a cmdlet reference page, or whose SYNTAX cannot be read."""


def normalise(text):
    """The page text with Windows line ends and a byte order mark removed."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def front_matter(text):
    """The page's yaml front matter as a dict ({} when it has none); read line by line where it is not YAML."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        data = None
    lines = _front_matter_lines(match.group(1))
    if isinstance(data, dict):
        # Aliases are not always YAML: "- %" does not parse, "- ?" parses as a mapping key.
        if "aliases" in lines:
            data["aliases"] = lines["aliases"]
        return data
    return lines


def _front_matter_lines(text):
    """Front matter read line by line: ``key: value`` pairs and ``- item`` lists (no YAML semantics)."""
    data, key = {}, None
    for line in text.splitlines():
        item = re.match(r"^\s+-\s*(.*?)\s*$", line)
        if item and key:
            if not isinstance(data.get(key), list):
                data[key] = []
            data[key].append(item.group(1).strip("'\""))
            continue
        pair = re.match(r"^([^\s:][^:]*):\s*(.*?)\s*$", line)
        if pair:
            key = pair.group(1)
            data[key] = pair.group(2)
    return data


def sections(text, pattern=_H2):
    """``[(heading, body), ...]`` of the headings ``pattern`` finds, in order."""
    found = list(pattern.finditer(text))
    return [(m.group(1), text[m.end():found[i + 1].start() if i + 1 < len(found) else len(text)])
            for i, m in enumerate(found)]


def section(text, name):
    """The body of the ``## name`` section (case-insensitive), or None."""
    for heading, body in sections(text):
        if heading.strip().lower() == name.lower():
            return body
    return None


def is_switch_type(type_name):
    return type_name.strip().lower().rsplit(".", 1)[-1] == "switchparameter"


def set_heading(heading):
    """``(set name, is default, provider or None)`` of a SYNTAX ``###`` heading: ``Path (Default) - Registry
    provider`` -> ``("Path - Registry provider", True, "Registry")``."""
    name = heading.strip()
    provider = None
    match = _PROVIDER.search(name)
    if match:
        provider = match.group(2).strip()
        name = name[:match.start()] + " - " + match.group(1).strip()
    default = bool(_DEFAULT.search(name))
    name = _DEFAULT.sub("", name).strip()
    return name, default, provider


def base_set_name(name):
    """``Path - Registry provider`` -> ``Path``: the name PARAMETERS uses for a provider-specific set."""
    match = _PROVIDER.search(name)
    return name[:match.start()].strip() if match else name


def syntax_tokens(block, cmdlet):
    """The parameters of one SYNTAX code block: ``([(name, mandatory, positional, type or None)], leftover)``.

    ``leftover`` is the text no form matched (empty for a well-formed block)."""
    text = " ".join(block.split())
    if text.lower().startswith(cmdlet.lower()):
        text = text[len(cmdlet):]
    params, leftover, pos = [], [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        for kind, pattern in _SYNTAX_TOKENS:
            match = pattern.match(text, pos)
            if match:
                break
        else:
            end = text.find(" ", pos)
            end = len(text) if end < 0 else end
            leftover.append(text[pos:end])
            pos = end
            continue
        pos = match.end()
        if kind == "common":
            continue
        mandatory = kind.startswith("mandatory")
        positional = kind.endswith("positional")
        type_name = match.group(2).strip() if match.re.groups >= 2 else None
        params.append((match.group(1), mandatory, positional, type_name))
    return params, " ".join(leftover)


def parse_syntax(body, cmdlet):
    """The parameter sets of a SYNTAX section: a list of dicts ``{name, default, provider, parameters}``,
    ``parameters`` a list of ``(name, mandatory, positional, type)`` in the order written."""
    heads = list(_H3.finditer(body))
    sets = []
    if not heads:
        blocks = list(_FENCE.finditer(body))
        if len(blocks) != 1:
            raise PageError(f"{cmdlet}: SYNTAX has no set headings and {len(blocks)} code blocks")
        params, leftover = syntax_tokens(blocks[0].group(2), cmdlet)
        return [{"name": SINGLE_SET, "default": True, "provider": None, "parameters": params,
                 "leftover": leftover}]
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        blocks = list(_FENCE.finditer(body, head.end(), end))
        if len(blocks) != 1:
            raise PageError(f"{cmdlet}: SYNTAX set {head.group(1)!r} has {len(blocks)} code blocks")
        name, default, provider = set_heading(head.group(1))
        params, leftover = syntax_tokens(blocks[0].group(2), cmdlet)
        sets.append({"name": name, "default": default, "provider": provider, "parameters": params,
                     "leftover": leftover})
    return sets


def _split_list(value):
    value = (value or "").strip()
    if not value or value.lower() in ("none", "[]"):
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def _per_set(value, convert):
    """``True (A, B), False (C)`` -> ``{"A": True, "B": True, "C": False}``; a plain value -> ``{None: v}``."""
    value = value.strip()
    parts = re.findall(r"([^,()]+?)\s*\(([^)]*)\)", value)
    if parts and re.sub(r"[^,()]+?\s*\([^)]*\)", "", value).strip(" ,") == "":
        out = {}
        for v, names in parts:
            for name in _split_list(names):
                out[name] = convert(v)
        if out:
            return out
    return {None: convert(value.split()[0] if value else "")}


def _bool(value):
    return str(value).strip().lower() == "true"


def _position(value):
    value = str(value).strip()
    return int(value) if value.isdigit() else None


def _pipeline(value):
    """``True (ByValue, ByPropertyName)`` -> ``["ByValue", "ByPropertyName"]``; False -> ``[]``."""
    value = value.strip()
    if not value.lower().startswith("true"):
        return []
    inside = re.search(r"\(([^)]*)\)", value)
    kinds = _split_list(inside.group(1)) if inside else ["ByValue"]
    return sorted("ByPropertyName" if k.lower() in ("bypropertyname", "byname") else "ByValue" for k in kinds)


def _classic_block(lines):
    fields = {}
    for line in lines.splitlines():
        if ":" in line and not line.startswith((" ", "-")):
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
    sets = _split_list(fields.get("parameter sets", ALL_SETS)) or [ALL_SETS]
    required = _per_set(fields.get("required", "False"), _bool)
    pipeline = _pipeline(fields.get("accept pipeline input", "False"))
    position = _position(fields.get("position", "Named"))
    entries = []
    for name in sets:
        mandatory = required.get(name, required.get(None, False))
        entries.append({"set": name, "mandatory": mandatory, "position": position, "pipeline": pipeline,
                        "remaining": False})
    return fields.get("type", ""), _split_list(fields.get("aliases")), entries


def _platyps2024_block(data):
    entries = []
    for item in data.get("ParameterSets") or []:
        pipeline = []
        if item.get("ValueFromPipeline"):
            pipeline.append("ByValue")
        if item.get("ValueFromPipelineByPropertyName"):
            pipeline.insert(0, "ByPropertyName")
        entries.append({"set": str(item.get("Name", ALL_SETS)), "mandatory": bool(item.get("IsRequired")),
                        "position": _position(item.get("Position", "Named")), "pipeline": sorted(pipeline),
                        "remaining": bool(item.get("ValueFromRemainingArguments"))})
    aliases = data.get("Aliases") or []
    if isinstance(aliases, str):
        aliases = _split_list(aliases)
    return str(data.get("Type", "")), [str(a) for a in aliases], entries


def parse_parameters(body):
    """The PARAMETERS section: ``{name: {type, aliases, entries: [{set, mandatory, position, pipeline,
    remaining}]}}`` (``set`` may be ``(All)``)."""
    params = {}
    for heading, text in sections(body, _H3):
        heading = heading.strip()
        if not heading.startswith("-"):
            continue  # CommonParameters, or prose
        name = heading[1:].strip()
        type_name, aliases, entries = "", [], []
        for match in _FENCE.finditer(text):
            if match.group(1).lower() not in ("yaml", "yml"):
                continue
            block = match.group(2)
            if re.search(r"^ParameterSets:\s*$", block, re.M):
                try:
                    data = yaml.safe_load(block) or {}
                except yaml.YAMLError as exc:
                    raise PageError(f"-{name}: yaml block does not parse: {exc}") from exc
                t, a, e = _platyps2024_block(data)
            else:
                t, a, e = _classic_block(block)
            type_name = type_name or t
            aliases = aliases or a
            entries.extend(e)
        params[name] = {"type": type_name, "aliases": aliases, "entries": entries}
    return params


def parse_outputs(body):
    """The type names of an OUTPUTS section, in order (links reduced to their text)."""
    names = []
    for heading, _ in sections(body or "", _H3):
        name = _LINK.sub(r"\1", heading).strip().strip("`*").strip()
        if name and name not in names:
            names.append(name)
    return names


def _entry_for(entries, set_name):
    for entry in entries:
        if entry["set"].lower() == set_name.lower():
            return entry
    for entry in entries:
        if entry["set"] in (ALL_SETS, SINGLE_SET):
            return entry
    return None


def parse_page(text):
    """One cmdlet page as a signature dict, plus the page's inconsistencies:

    ``{"name", "module", "aliases", "outputs", "default_set", "parameters": {name: {"type", "switch",
    "aliases"}}, "sets": {set: {name: [mandatory, position, pipeline]}}, "notes": [...]}``. ``position`` is an int or None (named); ``pipeline`` is ``""``, ``"ByValue"``,
    ``"ByPropertyName"`` or ``"ByPropertyName, ByValue"``; a ValueFromRemainingArguments parameter has
    ``"remaining": true`` in ``parameters``.
    """
    text = normalise(text)
    meta = front_matter(text)
    title = str(meta.get("title") or "").strip()
    module = str(meta.get("Module Name") or "").strip()
    if not title or "Module Guid" in meta or title == module:
        raise PageError(f"not a cmdlet page (title {title!r}, module {module!r})")
    syntax = section(text, "SYNTAX")
    if syntax is None:
        raise PageError(f"{title}: no SYNTAX section")
    sets = parse_syntax(syntax, title)
    documented = parse_parameters(section(text, "PARAMETERS") or "")
    notes = []
    by_lower = {name.lower(): name for name in documented}

    parameters = {}
    out_sets = {}
    default_set = None
    for s in sets:
        if s["leftover"]:
            notes.append(f"SYNTAX {s['name']}: could not read {s['leftover']!r}")
        if s["default"] and default_set is None:
            default_set = base_set_name(s["name"])
        members = out_sets.setdefault(s["name"], {})
        positional_index = 0
        for name, mandatory, positional, syntax_type in s["parameters"]:
            doc_name = by_lower.get(name.lower())
            doc = documented.get(doc_name) if doc_name else None
            name = doc_name or name
            if doc is None:
                notes.append(f"-{name} is in SYNTAX {s['name']} but not in PARAMETERS")
                doc = {"type": syntax_type or "SwitchParameter", "aliases": [], "entries": []}
            entry = _entry_for(doc["entries"], base_set_name(s["name"]))
            if doc["entries"] and entry is None:
                notes.append(f"-{name}: PARAMETERS does not list it in set {s['name']}")
            type_name = doc["type"] or syntax_type or ""
            if syntax_type is None and not is_switch_type(type_name) and doc["type"]:
                notes.append(f"-{name} is written as a switch in SYNTAX {s['name']} but its type is {type_name}")
            position = entry["position"] if entry else None
            if positional and position is None:
                # SYNTAX shows it positional; the position is its place among the positional ones.
                notes.append(f"-{name} is positional in SYNTAX {s['name']} but PARAMETERS says Named")
                position = positional_index
            if not positional and position is not None:
                notes.append(f"-{name} is named in SYNTAX {s['name']} but PARAMETERS gives position {position}")
                position = None
            if positional:
                positional_index += 1
            if entry is not None and entry["mandatory"] != mandatory:
                notes.append(f"-{name}: SYNTAX {s['name']} says {'mandatory' if mandatory else 'optional'}, "
                             f"PARAMETERS says {'mandatory' if entry['mandatory'] else 'optional'}")
                # platyPS writes a mandatory switch in brackets ([-ManagementOS] of Get-VMNetworkAdapter's
                # ManagementOS set, Required: True): mandatory when either part says so, the strict reading.
                mandatory = True
            pipeline = ", ".join(entry["pipeline"]) if entry else ""
            members[name] = [mandatory, position, pipeline]
            info = parameters.setdefault(name, {"type": type_name, "switch": is_switch_type(type_name),
                                                "aliases": list(doc["aliases"])})
            if entry and entry.get("remaining"):
                info["remaining"] = True
    if default_set is None:
        default_set = sets[0]["name"] if len(sets) == 1 else None
    for name in documented:
        if name not in parameters:
            notes.append(f"-{name} is in PARAMETERS but in no SYNTAX set")
    aliases = meta.get("aliases") or []
    if isinstance(aliases, str):
        aliases = _split_list(aliases)
    return {
        "name": title,
        "module": module,
        "aliases": [str(a) for a in aliases],
        "outputs": parse_outputs(section(text, "OUTPUTS")),
        "default_set": default_set,
        "parameters": dict(sorted(parameters.items(), key=lambda kv: kv[0].lower())),
        "sets": out_sets,
        "notes": notes,
    }
