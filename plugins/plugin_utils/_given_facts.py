"""The ``facts`` option: a node's ``hyperv_backup`` facts that the play already gathered, given to a module so
that it plans from them instead of reading the node again (doc_fragments/facts.py).

Plain functions over plain data. :func:`node_facts` accepts what a playbook has at hand (the facts themselves,
``ansible_facts.hyperv_backup``, a registered ``host_facts`` result) and checks that they hold the subsets the
module needs; :func:`check_node` refuses the facts of another host of the inventory; :func:`stale_warnings` says
which items the host found otherwise than the facts said, once it has read them again.
"""
import ipaddress

from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type

FACTS_MODULE = "hyperv.backup.host_facts"


class FactsError(ValueError):
    """Facts that cannot be planned from; the message says what is missing and how to gather it."""


def _unwrap(value):
    """The ``hyperv_backup`` facts inside what a playbook holds, or None when ``value`` holds none."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("ansible_facts"), dict):
        value = value["ansible_facts"]
    if isinstance(value.get("hyperv_backup"), dict):
        value = value["hyperv_backup"]
    return value if isinstance(value.get("node"), dict) else None


def node_facts(value, needs, option="facts"):
    """``value`` (the facts, ``{'hyperv_backup': ...}`` or a registered host_facts result) -> the facts.

    ``needs`` are the host_facts subsets the module plans from; facts gathered without one of them raise
    :class:`FactsError` naming the subsets to add."""
    if isinstance(value, dict) and value.get("skipped"):
        raise FactsError(f"{option}: the {FACTS_MODULE} task was skipped on this host, so there are no facts to plan from")
    if isinstance(value, dict) and value.get("failed"):
        raise FactsError(f"{option}: the {FACTS_MODULE} task failed on this host ({value.get('msg') or 'no message'}), "
                         "so there are no facts to plan from")
    facts = _unwrap(value)
    if facts is None:
        raise FactsError(f"{option}: expected the hyperv_backup facts of this node (ansible_facts.hyperv_backup, or "
                         f"the registered result of {FACTS_MODULE}), got {describe_type(value)} without node facts")
    gathered = facts.get("gather_subset")
    if not isinstance(gathered, list):
        raise FactsError(f"{option}: the facts have no gather_subset list; are they the output of {FACTS_MODULE}?")
    missing = [subset for subset in needs if subset not in gathered]
    if missing:
        add = ", ".join(missing)
        raise FactsError(f"{option}: the facts were gathered without {add} ({', '.join(gathered) or 'min'} only), "
                         f"which this module plans from; gather them with {FACTS_MODULE} gather_subset including "
                         f"{add} (or all, the default)")
    return facts


def _short(name):
    """A host name's first label, upper case; an IP address as it is."""
    text = str(name or "").strip()
    if not text:
        return None
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        return text.split(".", 1)[0].upper()


def check_node(facts, host_vars, option="facts"):
    """Refuse the facts of another inventory host. ``host_vars``: the variables of the host the task runs on
    (``inventory_hostname``, ``ansible_host``, ``groups``). Facts whose node is this host, or no host of the
    inventory by name, pass (an inventory may name a node by an alias)."""
    node = facts.get("node") or {}
    names = {_short(node.get("Name")), _short(node.get("DnsHostName"))} - {None}
    here = host_vars.get("inventory_hostname")
    if not names or not here:
        return
    if names & {_short(here), _short(host_vars.get("ansible_host"))}:
        return
    hosts = (host_vars.get("groups") or {}).get("all") or []
    other = next((host for host in hosts if _short(host) in names and host != here), None)
    if other is not None:
        raise FactsError(f"{option}: these are the facts of {node.get('Name')} (inventory host {other}), but the "
                         f"task runs on {here}; give each host its own facts (ansible_facts.hyperv_backup)")


def stale_warnings(module, stale):
    """Warnings for the items the host read otherwise than the facts said (``stale`` of
    ``_vm_plan.finish``: ``{'name', 'facts', 'host'}``): the facts were older, and the host acted on what it read."""
    warnings = []
    for item in stale:
        differing = "; ".join(f"{key} {item['host'][key]}, not {item['facts'][key]}" for key in item["host"])
        warnings.append(f"{module}: the facts given were older than the host: {item['name']} had {differing}, when "
                        "the host read it again before changing it; it acted on what it read")
    return warnings
