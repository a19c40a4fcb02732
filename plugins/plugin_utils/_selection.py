"""Which VMs of a node a task means: ``vms``, ``exclude`` and ``query`` over host_facts' ``vms`` list.

Shared by every capability that acts on VMs (documented for users in ``doc_fragments/vm_selection.py``).

- ``vms`` entries are VM IDs (GUID form, braces and surrounding spaces optional, any case), glob patterns
  (``*``, ``?``, ``[...]``, matched without regard to case, as Windows compares VM names) or exact names
  (any case). A pattern also selects a VM named exactly like it, so a name that contains ``[`` or ``*``
  needs no escaping. Default (``vms`` not given): every VM registered on the node; an empty list selects
  none, so that a computed list that came out empty never means "all".
- Names are data. They never become PowerShell code (the PowerShell modules get VM IDs and names as typed
  arguments), so quotes, ``;``, ``$``, backticks and non-ASCII letters are matched like any other
  character, byte for byte. Only control characters are refused (they cannot be typed or shown
  faithfully in a task); such a VM is selected by its ID.
- A value that looks like a VM ID but is not one (braces, a leading group of 8 hex digits followed by a
  dash, or 32 hex digits without dashes) and names no VM is an error naming it, so that a mistyped ID is
  not taken for a name.
- VM names need not be unique (Hyper-V allows two VMs of the same name): a name selects every VM of that
  name; VMs are told apart by ID.
- An ID or exact name in ``vms`` that matches no VM of the node is an error naming it, unless the node is
  in a failover cluster and the name or ID is that of a clustered VM role owned by another node: that VM
  is handled where it runs and is reported under ``elsewhere``. A glob pattern that matches nothing is not
  an error (on a cluster node a pattern often matches only VMs of other nodes).
- ``exclude`` takes the same forms and is checked the same way for format; an entry that matches nothing
  is not an error (excluding what is not there is already true).
- ``query`` is a JMESPath expression over the list of VM facts (keys as ``Get-VM`` names them: ``Name``,
  ``State``, ``Generation``, ...). It must return a list of VM objects, of VM IDs or of VM names; the VMs
  it returns are intersected with the ``vms`` selection. An invalid expression or another result is an
  error naming the query.
- The result is in a stable order: by name (case-insensitive), then ID.
"""
import fnmatch
import re
import unicodedata
import uuid

from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type, shown

# Braces both or neither (as Guid.Parse and the vm_sid filter take them): "{<GUID>" is a mistyped ID, not an ID.
GUID_RE = re.compile(r"^(?=\{.*\}$|[^{].*[^}]$)\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12})\}?$")
# What a VM ID with a typo looks like: braces, an 8-hex-digit group then a dash, or 32 bare hex digits.
_GUID_LIKE_RE = re.compile(r"^(\{.*|.*\}|[0-9a-fA-F]{8}-[0-9a-fA-F-]*|[0-9a-fA-F]{32})$")
_GLOB_CHARS = set("*?[")


class SelectionError(ValueError):
    """A selection value that is malformed or matches nothing; the message names it."""


def _fold(text):
    """VM names compare without regard to case, as Windows compares them."""
    return str(text).lower()


def control_character(text):
    """The first control character (Unicode category Cc: C0, DEL, C1) in ``text``, or None."""
    for char in text:
        if unicodedata.category(char) == "Cc":
            return char
    return None


def parse_entry(value, option="vms"):
    """Classify one ``vms`` / ``exclude`` entry: ``('id', guid)``, ``('glob', pattern)``, ``('name', name)``
    or ``('idlike', text)`` (looks like a mistyped VM ID: a name if a VM is named so, else an error)."""
    if not isinstance(value, str):
        raise SelectionError(f"{option}: {shown(value)} is {describe_type(value)}, not a string")
    if not value.strip():
        raise SelectionError(f"{option}: an empty string is not a VM name, pattern or ID")
    bad = control_character(value)
    if bad is not None:
        raise SelectionError(
            f"{option}: {value!r} contains the control character U+{ord(bad):04X}; control characters cannot "
            "be given in a VM name or pattern: select that VM by its ID (Get-VM shows it) instead"
        )
    match = GUID_RE.match(value.strip())
    if match:
        return "id", str(uuid.UUID(match.group(1)))
    if _GUID_LIKE_RE.match(value.strip()):
        return "idlike", value
    if _GLOB_CHARS & set(value):
        return "glob", value
    return "name", value


def _id_typo(option, value):
    return SelectionError(
        f"{option}: '{value}' looks like a VM ID but is not one, and no VM is named so; a VM ID is a GUID "
        "such as d9e0eb0a-5b37-508e-9173-67e9ade83acf (braces optional)"
    )


def _matches(kind, value, vm):
    if kind == "id":
        return str(vm.get("Id", "")).lower() == value
    name = _fold(vm.get("Name", ""))
    if kind == "glob":
        return name == _fold(value) or fnmatch.fnmatchcase(name, _fold(value))
    return name == _fold(value)


def _cluster_roles_elsewhere(facts):
    """``{('name', folded role name) or ('id', VM ID): [(role name, owner node, VM ID), ...]}`` for the clustered VMs
    owned by another node (names need not be unique, so a name may stand for several roles)."""
    cluster = facts.get("cluster") or {}
    here = _fold((facts.get("node") or {}).get("Name", ""))
    roles = {}
    for role in cluster.get("VMRoles") or []:
        if _fold(role.get("OwnerNode", "")) == here:
            continue
        owner = (role.get("Name"), role.get("OwnerNode"), str(role.get("VMId") or "").lower())
        roles.setdefault(("name", _fold(role.get("Name", ""))), []).append(owner)
        if role.get("VMId"):
            roles.setdefault(("id", str(role["VMId"]).lower()), []).append(owner)
    return roles


def _run_query(query, vms):
    try:
        import jmespath
        from jmespath.exceptions import JMESPathError
    except ImportError:  # pragma: no cover - jmespath is in requirements.txt
        raise SelectionError("query: the Python library 'jmespath' is needed on the controller for 'query'") from None
    try:
        found = jmespath.search(query, vms)
    except JMESPathError as err:
        raise SelectionError(f"query: '{query}' is not a valid JMESPath expression: {err}") from None
    except (TypeError, ValueError) as err:
        raise SelectionError(f"query: '{query}' failed on the VM facts: {err}") from None
    if found is None:
        return set()
    if not isinstance(found, list):
        raise SelectionError(
            f"query: '{query}' must return a list of VMs (or of VM IDs or names), got {describe_type(found)}"
        )
    ids = set()
    by_id = {str(vm["Id"]).lower() for vm in vms}
    by_name = {}
    for vm in vms:
        by_name.setdefault(_fold(vm["Name"]), set()).add(str(vm["Id"]).lower())
    for item in found:
        if isinstance(item, dict) and str(item.get("Id", "")).lower() in by_id:
            ids.add(str(item["Id"]).lower())
        elif isinstance(item, str) and item.lower() in by_id:
            ids.add(item.lower())
        elif isinstance(item, str) and _fold(item) in by_name:
            ids.update(by_name[_fold(item)])
        else:
            raise SelectionError(
                f"query: '{query}' must return VM objects (with their Id), VM IDs or VM names of this node; "
                f"it returned {shown(item)}"
            )
    return ids


def select_vms(facts, vms=None, exclude=None, query=None):
    """Return ``{'selected': [vm facts...], 'elsewhere': [{'name', 'node'}...]}`` for one node's facts.

    ``facts`` is ``ansible_facts.hyperv_backup`` of the node (with the ``vms`` subset; ``cluster`` is used
    when present). Raises :class:`SelectionError` naming the offending value.
    """
    all_vms = list(facts.get("vms") or [])
    include = [parse_entry(v, "vms") for v in (vms or [])]
    excluded = [parse_entry(v, "exclude") for v in (exclude or [])]
    elsewhere_roles = _cluster_roles_elsewhere(facts)
    node_name = (facts.get("node") or {}).get("Name", "this node")

    def roles_elsewhere(kind, value):
        if kind == "id":
            return elsewhere_roles.get(("id", value), [])
        return elsewhere_roles.get(("name", _fold(value)), [])

    for kind, value in excluded:
        if kind == "idlike" and not any(_matches(kind, value, vm) for vm in all_vms) \
                and not roles_elsewhere(kind, value):
            raise _id_typo("exclude", value)

    if vms is not None:
        chosen, elsewhere, missing = [], [], []
        for kind, value in include:
            hits = [vm for vm in all_vms if _matches(kind, value, vm)]
            away = roles_elsewhere(kind, value)
            if hits:
                chosen.extend(hits)
            elif away:
                elsewhere.extend(away)
            elif kind == "idlike":
                raise _id_typo("vms", value)
            elif kind != "glob":
                missing.append(value)
        if missing:
            what = ", ".join(f"'{m}'" for m in missing)
            raise SelectionError(
                f"vms: {what} matches no VM on {node_name}"
                + (" nor any clustered VM role" if facts.get("cluster") else "")
            )
    else:
        chosen, elsewhere = list(all_vms), []

    if query:
        wanted = _run_query(query, all_vms)
        chosen = [vm for vm in chosen if str(vm["Id"]).lower() in wanted]

    chosen = [vm for vm in chosen if not any(_matches(kind, value, vm) for kind, value in excluded)]
    unique_elsewhere, seen = [], set()
    for name, owner, vm_id in elsewhere:
        if (name, owner, vm_id) in seen \
                or any(_matches(kind, value, {"Name": name, "Id": vm_id}) for kind, value in excluded):
            continue
        seen.add((name, owner, vm_id))
        unique_elsewhere.append({"name": name, "node": owner})

    unique = {str(vm["Id"]).lower(): vm for vm in chosen}
    ordered = sorted(unique.values(), key=lambda vm: (_fold(vm["Name"]), str(vm["Id"]).lower()))
    return {"selected": ordered, "elsewhere": unique_elsewhere}
