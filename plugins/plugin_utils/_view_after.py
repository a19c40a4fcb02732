"""The cluster view as a run left it: the view it started from, with what each module applied and read back.

Plain data in, plain data out. A converge gathers once per node, changes what must change and reads each item
back on the host (the modules' ``after``); :func:`view_after` puts those read-backs into the view the run
started from, so the report of the run describes the cluster it left without reading every node again.

What is taken from which result (recognized by its shape; a skipped result, or a loop's ``results``, too):

- per-VM results (``vms`` entries with ``id`` and ``after``: checkpoint_type, scsi_controller,
  backup_integration): ``CheckpointType`` and ``AutomaticCheckpointsEnabled`` as they are; ``ScsiControllers``,
  a count, adds controllers (with no disk) up to it; ``Enabled`` is the Backup integration service's; a VM left
  in another state (a shut down that did not finish) gets it;
- vss_access_control (``key`` and ``values``): the node's VssAccessControl values;
- vm_folder_access (``folders`` with ``path`` and ``after``): the folder's ACL, wherever a node had read it;
- cluster_config_store (``after.ConfigStoreRootPath``): the cluster's parameter;
- csv_placement (``moves``): a VM ``moved`` runs on ``to`` (its role's owner too), a CSV ``moved`` is owned by
  ``to``. ``ok`` moves were already there.

Then the view is built again from the nodes' facts (``_cluster_view.cluster_view``), so every derived field
(``OnSharedVolumeOwner``, the VHD Set folders) follows.
"""
import copy
from collections.abc import Mapping

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type
from ansible_collections.hyperv.backup.plugins.plugin_utils._windows_path import normalize

# What cluster_view adds to a VM; removed before the view is built again.
DERIVED_VM_KEYS = ("Node", "Cluster", "SharedVolume", "SharedVolumeOwner", "OnSharedVolumeOwner", "SharedVolumes")
DERIVED_CLUSTER_KEYS = ("ReportingNodes", "MissingNodes")
VM_SETTINGS = ("CheckpointType", "AutomaticCheckpointsEnabled")


class ViewAfterError(ValueError):
    """Input that is not a view or module results; the message names it."""


def _plain(value):
    """A copy made of plain dicts, lists and scalars (what a playbook hands a filter may be lazy containers,
    whose deep copy costs far more)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _results(results):
    """A flat list of module results: a loop's ``results`` are taken one by one, skipped ones left out."""
    if isinstance(results, dict):
        results = [results]
    if not isinstance(results, (list, tuple)):
        raise ViewAfterError(f"view_after: expected a list of module results, got {describe_type(results)}")
    flat = []
    for result in results:
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        if isinstance(result.get("results"), list):
            flat.extend(_results(result["results"]))
        else:
            flat.append(result)
    return flat


def _vm_entry(vm, after, state=None):
    for key in VM_SETTINGS:
        if key in after:
            vm[key] = after[key]
    count = after.get("ScsiControllers")
    controllers = vm.get("ScsiControllers")
    if isinstance(count, int) and isinstance(controllers, list) and count > len(controllers):
        numbers = {c.get("ControllerNumber") for c in controllers}
        free = (n for n in range(8) if n not in numbers)
        vm["ScsiControllers"] = controllers + [{"ControllerNumber": next(free), "DiskCount": 0}
                                               for _ in range(count - len(controllers))]
    if "Enabled" in after and isinstance(vm.get("BackupIntegration"), dict):
        vm["BackupIntegration"] = dict(vm["BackupIntegration"], Enabled=after["Enabled"])
    if state:
        vm["State"] = state


def _acl(nodes, folder):
    """Every node's ACL entry of ``folder`` gets the ACL read back."""
    path = normalize(folder["path"])
    for facts in nodes.values():
        for acl in facts.get("acls") or []:
            if isinstance(acl, dict) and normalize(acl.get("Path") or "") == path:
                acl["Access"] = copy.deepcopy(folder["after"])


def _move(by_id, cluster, move):
    target = move.get("to")
    if move.get("status") != "moved" or not target:
        return
    if move.get("kind") == "csv":
        for volume in (cluster or {}).get("SharedVolumes") or []:
            if volume.get("Name") == move.get("name"):
                volume["OwnerNode"] = target
        return
    vm = by_id.get(str(move.get("id") or "").lower())
    if vm is not None:
        vm["Node"] = target
    for role in (cluster or {}).get("VMRoles") or []:
        if str(role.get("VMId") or "").lower() == str(move.get("id") or "").lower():
            role["OwnerNode"] = target


def _node_facts(view, cluster):
    """The per-node facts the view was built from, with each VM under the node it runs on now."""
    facts = {}
    for name, node in view["nodes"].items():
        facts[name.upper()] = dict(node, cluster=copy.deepcopy(cluster), vms=[])
    for vm in view["vms"]:
        home = facts.get(str(vm.get("Node") or "").upper())
        if home is not None:
            home["vms"].append({key: value for key, value in vm.items() if key not in DERIVED_VM_KEYS})
    return list(facts.values())


def view_after(view, results):
    """``view`` (from ``cluster_view``) with what ``results`` (module results) applied and read back."""
    if not isinstance(view, dict) or not isinstance(view.get("vms"), list) or not isinstance(view.get("nodes"), dict):
        raise ViewAfterError(f"view_after: expected the output of hyperv.backup.cluster_view (a mapping with vms "
                             f"and nodes), got {describe_type(view)}")
    view = _plain(view)
    cluster = view.get("cluster")
    if cluster:
        cluster = {key: value for key, value in cluster.items() if key not in DERIVED_CLUSTER_KEYS}
    by_id = {str(vm.get("Id")).lower(): vm for vm in view["vms"]}
    nodes_by_name = {name.upper(): facts for name, facts in view["nodes"].items()}
    for result in _results(_plain(results) if isinstance(results, (list, tuple, Mapping)) else results):
        for entry in result.get("vms") or []:
            vm = by_id.get(str(entry.get("id") if isinstance(entry, dict) else "").lower())
            if vm is not None and isinstance(entry.get("after"), dict):
                _vm_entry(vm, entry["after"], entry.get("state") if entry.get("shutdown") == "unfinished" else None)
        if "key" in result and isinstance(result.get("values"), dict):
            node = nodes_by_name.get(str(result.get("node") or "").upper())
            if node is not None:
                node["vss_access_control"] = dict(result["values"])
        for folder in result.get("folders") or []:
            if isinstance(folder, dict) and folder.get("path") and isinstance(folder.get("after"), list):
                _acl(view["nodes"], folder)
        store = (result.get("after") or {}) if isinstance(result.get("after"), dict) else {}
        if "ConfigStoreRootPath" in store and cluster:
            cluster["Parameters"] = dict(cluster.get("Parameters") or {}, ConfigStoreRootPath=store["ConfigStoreRootPath"])
        for move in result.get("moves") or []:
            if isinstance(move, dict):
                _move(by_id, cluster, move)
    return cluster_view(_node_facts(view, cluster))
