"""Which VMs of a node a task means: ``vms``, ``exclude`` and ``query`` over host_facts' ``vms`` list.

Shared by every capability that acts on VMs (documented for users in ``doc_fragments/vm_selection.py``).

- ``vms`` entries are VM IDs (GUID form, braces optional, any case), glob patterns (``*``, ``?``,
  ``[...]``, matched without regard to case, as Windows compares VM names) or exact names (any case).
  Default (``vms`` not given): every VM registered on the node; an empty list selects none, so that a
  computed list that came out empty never means "all".
- A value that looks like a VM ID but is not one (braces, a leading group of 8 hex digits followed by a
  dash, or 32 hex digits without dashes) is an error naming it, so that a mistyped ID is not taken for a name.
- Names containing quotes (ASCII or typographic), semicolons, backticks, ``$`` or control characters are
  rejected: no VM of ours is named like that, and it is cheaper to say so than to carry such a value on.
- An ID or exact name in ``vms`` that matches no VM of the node is an error naming it, unless the node is
  in a failover cluster and the name or ID is that of a clustered VM role owned by another node: that VM
  is handled where it runs and is reported under ``elsewhere``. A glob pattern that matches nothing is not an error
  (on a cluster node a pattern often matches only VMs of other nodes).
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
import uuid

GUID_RE = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
# What a VM ID with a typo looks like: braces, an 8-hex-digit group then a dash, or 32 bare hex digits.
_GUID_LIKE_RE = re.compile(r"^(\{.*|.*\}|[0-9a-fA-F]{8}-[0-9a-fA-F-]*|[0-9a-fA-F]{32})$")
# Characters PowerShell treats as quotes, statement separators, escapes or variable markers.
_UNSAFE_RE = re.compile("[\"'\u2018\u2019\u201a\u201b\u201c\u201d\u201e;`$\x00-\x1f\x7f]")
_GLOB_CHARS = set("*?[")


class SelectionError(ValueError):
    """A selection value that is malformed or matches nothing; the message names it."""


def parse_entry(value, option="vms"):
    """Classify one ``vms`` / ``exclude`` entry: ``('id', guid)``, ``('glob', pattern)`` or ``('name', name)``."""
    if not isinstance(value, str):
        raise SelectionError(f"{option}: {value!r} ({type(value).__name__}) is not a string")
    text = value.strip()
    if not text:
        raise SelectionError(f"{option}: an empty string is not a VM name, pattern or ID")
    match = GUID_RE.match(text)
    if match:
        return "id", str(uuid.UUID(match.group(1)))
    if _GUID_LIKE_RE.match(text):
        raise SelectionError(
            f"{option}: '{value}' looks like a VM ID but is not one; a VM ID is a GUID such as "
            "d9e0eb0a-5b37-508e-9173-67e9ade83acf (braces optional)"
        )
    bad = _UNSAFE_RE.search(text)
    if bad:
        raise SelectionError(
            f"{option}: {value!r} contains {bad.group(0)!r}; quotes, semicolons, backticks, '$' and control "
            "characters are not accepted in VM names or patterns"
        )
    if _GLOB_CHARS & set(text):
        return "glob", text
    return "name", text


def _matches(kind, value, vm):
    if kind == "id":
        return str(vm.get("Id", "")).lower() == value
    name = str(vm.get("Name", "")).lower()
    if kind == "glob":
        return fnmatch.fnmatchcase(name, value.lower())
    return name == value.lower()


def _cluster_roles_elsewhere(facts):
    """``{('name', lower-case role name) or ('id', VM ID): (role name, owner node)}`` for the clustered VMs
    owned by another node."""
    cluster = facts.get("cluster") or {}
    here = str((facts.get("node") or {}).get("Name", "")).lower()
    roles = {}
    for role in cluster.get("VMRoles") or []:
        if str(role.get("OwnerNode", "")).lower() == here:
            continue
        owner = (role.get("Name"), role.get("OwnerNode"))
        roles[("name", str(role.get("Name", "")).lower())] = owner
        if role.get("VMId"):
            roles[("id", str(role["VMId"]).lower())] = owner
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
            f"query: '{query}' must return a list of VMs (or of VM IDs or names), got {type(found).__name__}"
        )
    ids = set()
    by_id = {str(vm["Id"]).lower(): vm for vm in vms}
    by_name = {str(vm["Name"]).lower(): vm for vm in vms}
    for item in found:
        if isinstance(item, dict) and str(item.get("Id", "")).lower() in by_id:
            ids.add(str(item["Id"]).lower())
        elif isinstance(item, str) and item.lower() in by_id:
            ids.add(item.lower())
        elif isinstance(item, str) and item.lower() in by_name:
            ids.add(str(by_name[item.lower()]["Id"]).lower())
        else:
            raise SelectionError(
                f"query: '{query}' must return VM objects (with their Id), VM IDs or VM names of this node; "
                f"it returned {item!r}"
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

    if vms is not None:
        chosen, elsewhere, missing = [], [], []
        for (kind, value), original in zip(include, vms):
            hits = [vm for vm in all_vms if _matches(kind, value, vm)]
            if hits:
                chosen.extend(hits)
            elif kind in ("name", "id") and (kind, value.lower()) in elsewhere_roles:
                name, owner = elsewhere_roles[(kind, value.lower())]
                elsewhere.append({"name": name, "node": owner})
            elif kind != "glob":
                missing.append(original)
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
    elsewhere = [e for e in elsewhere if not any(k == "name" and v.lower() == e["name"].lower() for k, v in excluded)]

    unique = {str(vm["Id"]).lower(): vm for vm in chosen}
    ordered = sorted(unique.values(), key=lambda vm: (str(vm["Name"]).lower(), str(vm["Id"]).lower()))
    return {"selected": ordered, "elsewhere": elsewhere}
