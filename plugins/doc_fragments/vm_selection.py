# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VM selection options shared by the modules that act on VMs (plugin_utils/_selection.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  vms:
    description:
      - The VMs of the node to act on, by VM ID, glob pattern or name. When O(vms) is not given, every VM
        registered on the node; an empty list selects no VM (a computed list that comes out empty never
        means all).
      - A VM ID is a GUID as C(Get-VM) shows it (C(d9e0eb0a-5b37-508e-9173-67e9ade83acf)), braces and
        case do not matter. A value that looks like an ID but is not one, and is not the name of a VM, is
        an error.
      - A glob pattern uses C(*), C(?) and C([...]) and is matched without regard to case, as Windows
        compares VM names. A pattern that matches nothing is not an error. A pattern also selects a VM named
        exactly like it; to match C(*), C(?) or C([) literally, enclose it in brackets (C([[])).
      - Any other value is a VM name, compared without regard to case but otherwise exactly (spaces
        included).
      - Names are data, never code. Quotes, C(;), C($), C($()), backticks and non-ASCII letters are valid in
        VM names and patterns and reach the host unchanged. Only control characters (line breaks, tabs, ...)
        are refused; select such a VM by its ID.
      - Hyper-V allows two VMs of the same name; a name selects every VM of that name, and results tell
        them apart by ID.
      - An ID or name that matches no VM of the node is an error naming it, except the name or ID of a
        clustered VM role owned by another node of the same failover cluster, which is reported under
        RV(elsewhere) and left to that node (run the task on every node of the cluster).
    type: list
    elements: str
  exclude:
    description:
      - VMs to leave out, in the same forms as O(vms). Applied last, after O(vms) and O(query).
      - An entry that matches nothing is not an error; a malformed one is.
    type: list
    elements: str
    default: []
  query:
    description:
      - A JMESPath expression over the list of the node's VM facts (the C(vms) list that
        M(hyperv.backup.host_facts) returns, with keys as C(Get-VM) names them, such as C(Name),
        C(State), C(Generation), C(CheckpointType)), for example C([?Generation==`2` && State=='Running']).
      - It must return a list of VM objects, of VM IDs or of VM names; only those VMs (of the ones O(vms)
        selects) are acted on.
      - Needs the C(jmespath) Python library on the controller.
    type: str
"""
