"""Merge the ``hyperv_backup`` facts of every node of a cluster into one view.

Each node reports what it sees (facts per node); the controller puts them together and decides. In the
view every VM appears once, with the node it is registered on and the Cluster Shared Volume it lives on.
"""
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type, shown
from ansible_collections.hyperv.backup.plugins.plugin_utils._windows_path import normalize, parent


class ClusterViewError(ValueError):
    """Input that is not a list of ``hyperv_backup`` facts; the message names the bad item."""


def _check_facts(index, facts):
    if not isinstance(facts, dict):
        raise ClusterViewError(
            f"cluster_view: item {index} is {describe_type(facts)} ({shown(facts, 80)}), not the hyperv_backup facts of a node "
            "(a mapping)"
        )
    if "ansible_facts" in facts:  # a whole module result
        facts = facts["ansible_facts"]
    if "hyperv_backup" in facts:
        facts = facts["hyperv_backup"]
    node = facts.get("node")
    if not isinstance(node, dict) or not node.get("Name"):
        raise ClusterViewError(f"cluster_view: item {index} has no node.Name; is it the output of hyperv.backup.host_facts?")
    return facts


def volume_finder(shared_volumes):
    """A function ``path -> the shared volume whose path holds it`` (the longest match, as ``is_under``
    compares), or None; the volumes are indexed once, so each lookup costs the depth of the path, not the
    number of volumes."""
    by_path = {}
    for csv in shared_volumes:
        by_path.setdefault(normalize(csv["Path"]), csv)

    def find(path):
        if not path:
            return None
        text = normalize(path)
        while text:
            hit = by_path.get(text) or (by_path.get(text + "\\") if text.endswith(":") else None)
            if hit:
                return hit
            text = text[:max(text.rfind("\\"), 0)]
        return None

    return find


def _vm_entry(vm, node_name, cluster, find):
    entry = dict(vm)
    entry["Node"] = node_name
    entry["Cluster"] = cluster["Name"] if cluster else None
    home = find(vm.get("Path"))
    entry["SharedVolume"] = home["Name"] if home else None
    entry["SharedVolumeOwner"] = home["OwnerNode"] if home else None
    entry["OnSharedVolumeOwner"] = (home["OwnerNode"].upper() == node_name.upper()) if home else None
    paths = [vm.get("Path")] + [disk.get("Path") for disk in (vm.get("HardDisks") or [])]
    used = (find(path) for path in paths)
    entry["SharedVolumes"] = sorted({csv["Name"] for csv in used if csv})
    return entry


def _merge_same_node(facts_list):
    """Facts of one node gathered in several calls (say, once for VMs and once for ACLs) become one."""
    merged = {}
    for facts in facts_list:
        key = facts["node"]["Name"].upper()
        if key not in merged:
            merged[key] = dict(facts)
            continue
        into = merged[key]
        for name, value in facts.items():
            if name == "acls":
                known = {normalize(a["Path"]) for a in into.get("acls", [])}
                into["acls"] = list(into.get("acls", [])) + [a for a in value if normalize(a["Path"]) not in known]
            elif name == "gather_subset":
                into[name] = sorted(set(into.get(name, [])) | set(value))
            else:
                into[name] = value
    return sorted(merged.values(), key=lambda f: f["node"]["Name"].upper())


def vhd_set_folders(vms):
    """The folders that hold VHD Set (.vhds) files, each with the VMs that use it, sorted by path."""
    folders = {}
    for vm in vms:
        for disk in (vm.get("HardDisks") or []):
            if disk.get("IsVhdSet"):
                folder = parent(disk["Path"])
                entry = folders.setdefault(normalize(folder), {"Path": folder, "VMs": [], "VMIds": []})
                if vm["Id"] not in entry["VMIds"]:
                    entry["VMs"].append(vm["Name"])
                    entry["VMIds"].append(vm["Id"])
    return [folders[key] for key in sorted(folders)]


def cluster_view(node_facts):
    """``[hyperv_backup facts of each node]`` -> one view of the cluster (or of stand-alone hosts).

    Returns ``{'cluster', 'nodes', 'vms', 'vhd_set_folders', 'conflicts', 'warnings'}``: ``cluster`` is the cluster as its
    nodes report it (``None`` for stand-alone hosts) with ``ReportingNodes`` and ``MissingNodes``;
    ``nodes`` maps each reporting node to its node-local facts; ``vms`` lists every VM once, sorted by
    name, with ``Node``, ``Cluster``, ``SharedVolume``, ``SharedVolumeOwner``, ``OnSharedVolumeOwner``
    and ``SharedVolumes`` added. A VM reported by two nodes (a registration left behind, or facts taken
    during a migration) is kept once, preferring the node its cluster role is owned by, and listed in
    ``conflicts``. Facts of the same node from several calls are merged. Nodes of more than one cluster
    are an error: build one view per cluster.
    """
    if isinstance(node_facts, dict):
        node_facts = list(node_facts.values())
    if not isinstance(node_facts, (list, tuple)):
        raise ClusterViewError(
            f"cluster_view: expected a list of hyperv_backup facts (or a mapping of them by host), got "
            f"{describe_type(node_facts)}: {shown(node_facts, 80)}"
        )
    facts_list = _merge_same_node([_check_facts(i, f) for i, f in enumerate(node_facts)])

    warnings = []
    clusters = {}
    for facts in facts_list:
        cluster = facts.get("cluster")
        if cluster:
            clusters.setdefault(cluster["Name"].upper(), (facts["node"]["Name"], cluster))
    if len(clusters) > 1:
        names = ", ".join(sorted(name for name in clusters))
        raise ClusterViewError(f"cluster_view: the facts come from more than one cluster ({names}); build one view per cluster")
    cluster = None
    if clusters:
        reporter, first = next(iter(clusters.values()))
        cluster = dict(first)
        reporting = [f["node"]["Name"] for f in facts_list]
        members = [n["Name"] for n in cluster.get("Nodes", [])]
        cluster["ReportingNodes"] = reporting
        cluster["MissingNodes"] = [n for n in members if n.upper() not in {r.upper() for r in reporting}]
        not_member = [r for r in reporting if r.upper() not in {m.upper() for m in members}]
        if not_member:
            warnings.append(f"nodes {', '.join(not_member)} are not members of cluster {cluster['Name']}")
        for facts in facts_list:
            other = facts.get("cluster")
            if other and other.get("SharedVolumes") != first.get("SharedVolumes"):
                warnings.append(
                    f"{facts['node']['Name']} and {reporter} report different shared volume owners;"
                    f" the view uses {reporter}'s (a volume moved while facts were gathered?)"
                )

    # A VM's role by its VM ID; by name only for roles without one (names need not be unique).
    role_owner = {}
    for role in (cluster or {}).get("VMRoles", []) or []:
        role_owner.setdefault(str(role.get("VMId") or "").lower() or role["Name"].upper(), role.get("OwnerNode"))

    nodes, by_id, conflicts = {}, {}, []
    find = volume_finder((cluster or {}).get("SharedVolumes", []) or [])
    for facts in facts_list:
        name = facts["node"]["Name"]
        nodes[name] = {key: value for key, value in facts.items() if key not in ("vms", "cluster")}
        for vm in facts.get("vms", []) or []:
            entry = _vm_entry(vm, name, cluster, find)
            key = vm["Id"].lower()
            if key not in by_id:
                by_id[key] = entry
                continue
            kept = by_id[key]
            owner = (role_owner.get(key) or role_owner.get(vm["Name"].upper()) or "").upper()
            if owner == name.upper() or (owner != kept["Node"].upper() and entry.get("State") == "Running" and kept.get("State") != "Running"):
                by_id[key] = entry
            conflicts.append({"Id": key, "Name": vm["Name"], "Nodes": sorted({kept["Node"], name}), "KeptNode": by_id[key]["Node"]})

    vms = sorted(by_id.values(), key=lambda v: (v["Name"].upper(), v["Id"]))
    return {
        "cluster": cluster,
        "nodes": nodes,
        "vms": vms,
        "vhd_set_folders": vhd_set_folders(vms),
        "conflicts": conflicts,
        "warnings": warnings,
    }
