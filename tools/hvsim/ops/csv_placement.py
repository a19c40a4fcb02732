"""plugins/modules/csv_placement.ps1 in Python: the moves of a CSV placement plan, with the failover
cluster's rules (docs/windows-contract.md, csv_placement).

Cluster behaviour modelled here, with its source (hvsim takes the strictest case where the documentation
does not say):

- A VM role is found by its VM ID (``Get-ClusterGroup -VMId``,
  https://learn.microsoft.com/powershell/module/failoverclusters/get-clustergroup); a CSV by its name
  (``Get-ClusterSharedVolume -Name``). The group of a running VM is Online, of a VM that is Off or Saved
  Offline, of one that starts, stops or saves Pending (:func:`hvsim.world.role_state`).
- ``Move-ClusterVirtualMachineRole -MigrationType Live|Quick`` moves a running VM
  (https://learn.microsoft.com/powershell/module/failoverclusters/move-clustervirtualmachinerole): Live
  "transparently migrates the virtual machine", Quick "rapidly migrates a running virtual machine with
  minimal downtime". hvsim moves only a VM that is Running this way (a Paused VM is refused). Its memory
  is copied, so the target must have it free: the node's MemoryCapacity less the MemoryAssigned of the VMs
  holding memory there (Hyper-V does not start a VM without its memory).
- ``Move-ClusterGroup`` moves an Offline role: the cluster changes its owner and the VM keeps its state
  (Off or Saved; https://learn.microsoft.com/powershell/module/failoverclusters/move-clustergroup).
- ``Move-ClusterSharedVolume -Name -Node`` moves a CSV's ownership
  (https://learn.microsoft.com/powershell/module/failoverclusters/move-clustersharedvolume); hvsim moves only
  an Online volume.
- Every move needs a target node that is Up: a Paused or Down node (``Suspend-ClusterNode``,
  https://learn.microsoft.com/powershell/module/failoverclusters/suspend-clusternode), or one draining,
  takes no role. A VM goes only to one of its resource's possible owners (``Get-ClusterOwnerNode
  -Resource``; ``possible_owners`` in the model, every node when unset).
- Anti-affinity (https://learn.microsoft.com/windows-server/failover-clustering/cluster-affinity and the
  ClusterEnforcedAntiAffinity common property,
  https://learn.microsoft.com/previous-versions/windows/desktop/mscs/clusters-clusterenforcedantiaffinity):
  with ClusterEnforcedAntiAffinity 0 (the default) the cluster "will try to prevent, but not block" two
  groups of one AntiAffinityClassNames value on a node, and a manual move goes through; with 1 it is
  refused. Class names are compared without regard to case.
- Time: a live migration copies the VM's memory at ``cluster.live_migration_rate`` bytes per second
  (default 1 GiB/s) plus 2 s; a quick migration saves and restores it (twice that copy); a change of owner
  takes 1 s and a CSV move 2 s. The seconds are reported; nothing sleeps (time is virtual).
- ``faults.fail_move`` (VM names or IDs, CSV names) makes the move of each named object fail, naming it.

The balancers (CsvBalancer, AutoBalancerMode) and failback are read by host_facts; hvsim does not run them.
"""
from hvsim import world
from hvsim.ops import CmdletError, ModuleFail, operation

SPEC = {  # mirrors the $spec of plugins/modules/csv_placement.ps1
    "options": {
        "moves": {
            "type": "list", "elements": "dict", "required": True,
            "options": {
                "kind": {"type": "str", "required": True, "choices": ["vm", "csv"]},
                "name": {"type": "str", "required": True},
                "id": {"type": "str"},
                "from": {"type": "str", "required": True},
                "to": {"type": "str", "required": True},
            },
        },
        "cluster": {"type": "str", "required": True},
        "migration_type": {"type": "str", "default": "live", "choices": ["live", "quick"]},
        "timeout": {"type": "int", "default": 3600},
    },
    "supports_check_mode": True,
}
# the cmdlets of plugins/modules/csv_placement.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = (
    "Microsoft.PowerShell.Management\\Get-Service",
    "FailoverClusters\\Get-Cluster", "FailoverClusters\\Get-ClusterGroup", "FailoverClusters\\Get-ClusterSharedVolume",
    "FailoverClusters\\Move-ClusterVirtualMachineRole", "FailoverClusters\\Move-ClusterGroup",
    "FailoverClusters\\Move-ClusterSharedVolume",
)
MIGRATION_BASE_SECONDS = 2.0
OWNERSHIP_SECONDS = 1.0
CSV_MOVE_SECONDS = 2.0


class _Refused(Exception):
    """A move the cluster refuses; the message is the cluster's."""


def _find_role(data, vm_id):
    """``Get-ClusterGroup -VMId``: the clustered VM with this ID, or None."""
    vm = world.find_vm(data, vm_id=vm_id)
    return vm if vm is not None and vm.get("clustered") else None


def _find_csv(data, name):
    for volume in (data.get("cluster") or {}).get("shared_volumes") or []:
        if str(volume["name"]).lower() == str(name).lower():
            return volume
    return None


def _placement(ctx, move):
    """``Read-Placement`` of the .ps1: ``(model object, owner, state, cluster's name)``; raises CmdletError."""
    if move["kind"] == "csv":
        volume = _find_csv(ctx.data, move["name"])
        ctx.cmdlet("Get-ClusterSharedVolume")
        if volume is None:
            raise CmdletError(f"The Cluster Shared Volume '{move['name']}' was not found in cluster "
                              f"{ctx.data['cluster']['name']}.")
        return volume, str(volume["owner_node"]).upper(), volume.get("state", "Online"), volume["name"]
    vm = _find_role(ctx.data, move["id"])
    ctx.cmdlet("Get-ClusterGroup", [vm] if vm else [])
    if vm is None:
        raise CmdletError(f"the cluster has no role for the VM with ID {move['id']}")
    return vm, vm["node"].upper(), world.role_state(vm), vm["name"]


def _check_target(data, target, what):
    node = next((n for n in data.get("nodes") or [] if n["name"].upper() == target), None)
    if node is None:
        raise _Refused(f"The node '{target}' is not a node of cluster {data['cluster']['name']}.")
    state = node.get("state", "Up")
    if state != "Up":
        raise _Refused(f"{what} cannot be moved to {target}: the cluster node {target} is {state}.")
    if node.get("drain_status") == "InProgress":
        raise _Refused(f"{what} cannot be moved to {target}: the cluster node {target} is draining.")
    return node


def _used_memory(data, target, leaving):
    return sum(world.memory_assigned(vm) for vm in world.vms_on_node(data, target) if vm is not leaving)


def _move_vm(ctx, vm, target, method):
    """One VM move with the cluster's rules; returns its seconds or raises _Refused."""
    data = ctx.data
    what = f"The clustered role '{vm['name']}'"
    cmdlet = "Move-ClusterGroup" if method == "ownership" else "Move-ClusterVirtualMachineRole"
    try:
        ctx.cmdlet(cmdlet, [vm])
    except CmdletError as err:
        raise _Refused(str(err)) from None
    node = _check_target(data, target, what)
    owners = world.possible_owners(data, vm)
    if target not in owners:
        raise _Refused(f"{what} cannot be moved to {target}: {target} is not a possible owner of its virtual machine "
                       f"resource (possible owners: {', '.join(owners)}).")
    if world.cluster_setting(data, "cluster_enforced_anti_affinity") == 1:
        mine = {str(c).casefold() for c in vm.get("anti_affinity_class_names") or []}
        for other in world.vms_on_node(data, target):
            shared = mine & {str(c).casefold() for c in other.get("anti_affinity_class_names") or []}
            if other is not vm and other.get("clustered") and shared:
                raise _Refused(f"{what} cannot be moved to {target}: '{other['name']}' runs there with the same "
                               f"anti-affinity class '{sorted(shared)[0]}' and ClusterEnforcedAntiAffinity is 1.")
    memory = world.memory_assigned(vm)
    if method != "ownership":
        if world.vm_state(vm) != "Running":
            raise _Refused(f"{what} cannot be migrated: the virtual machine is {world.vm_state(vm)}; "
                           "live and quick migration move a running virtual machine.")
        free = world.memory_capacity(node) - _used_memory(data, target, vm)
        if memory > free:
            raise _Refused(f"{what} cannot be migrated to {target}: not enough memory on {target} "
                           f"(it needs {memory // 2 ** 20} MB, {max(free, 0) // 2 ** 20} MB are free).")
    if _failing(data, vm):
        raise _Refused(f"The migration of '{vm['name']}' to {target} failed: the source and destination lost "
                       "contact during the move (hvsim fault injection, faults.fail_move).")
    vm["node"] = node["name"]
    rate = (data.get("cluster") or {}).get("live_migration_rate") or world.DEFAULT_LIVE_MIGRATION_RATE
    if method == "ownership":
        return OWNERSHIP_SECONDS
    copies = 1 if method == "live" else 2
    return round(MIGRATION_BASE_SECONDS + copies * memory / rate, 1)


def _move_csv(ctx, volume, target):
    data = ctx.data
    what = f"The Cluster Shared Volume '{volume['name']}'"
    try:
        ctx.cmdlet("Move-ClusterSharedVolume")
    except CmdletError as err:
        raise _Refused(str(err)) from None
    node = _check_target(data, target, what)
    if volume.get("state", "Online") != "Online":
        raise _Refused(f"{what} is {volume.get('state')}; only an Online volume is moved.")
    if _failing(data, volume):
        raise _Refused(f"Moving the Cluster Shared Volume '{volume['name']}' to {target} failed: the volume could "
                       "not be brought online on the new owner (hvsim fault injection, faults.fail_move).")
    volume["owner_node"] = node["name"]
    return CSV_MOVE_SECONDS


def _failing(data, obj):
    names = (data.get("faults") or {}).get("fail_move") or []
    return any(world.matches_vm(obj, name) for name in names)


def _check_cluster(ctx, planned):
    node = world.find_node(ctx.data, ctx.node)
    name = node["name"].upper()
    try:
        ctx.cmdlet("Get-Service")
    except CmdletError as err:
        raise ModuleFail(f"csv_placement: reading the cluster service on {name} failed: {err}") from None
    service = world.cluster_service(ctx.data, node)
    if service is None:
        raise ModuleFail(f"csv_placement: {name} is not a node of a failover cluster (it has no cluster service, ClusSvc)")
    if service != "Running":
        raise ModuleFail(f"csv_placement: the cluster service (ClusSvc) is {service} on {name}; run csv_placement on a "
                         "node of the cluster where it runs")
    if node.get("failover_clusters_module", True) is False:
        raise ModuleFail(f"csv_placement: {name} has no FailoverClusters PowerShell module; install it: "
                         "Install-WindowsFeature RSAT-Clustering-PowerShell")
    try:
        ctx.cmdlet("Get-Cluster")
    except CmdletError as err:
        raise ModuleFail(f"csv_placement: reading the failover cluster on {name} failed: {err}") from None
    actual = ctx.data["cluster"]["name"]
    if actual.lower() != str(planned).lower():
        raise ModuleFail(f"csv_placement: {name} is a node of cluster {actual}, not of {planned} whose placement was "
                         f"planned; run csv_placement on a node of {planned}")


@operation("csv_placement", SPEC)
def csv_placement(ctx, params):
    ctx.result["changed"] = False
    timeout = params["timeout"]
    method_of_running = str(params["migration_type"]).lower()
    if timeout < 1:
        raise ModuleFail(f"csv_placement: timeout {timeout} must be at least 1 second")
    for index, move in enumerate(params["moves"]):
        if move["kind"] == "vm" and not move.get("id"):
            raise ModuleFail(f"csv_placement: moves[{index}] moves the VM '{move['name']}' but has no id (the VM ID)")
    _check_cluster(ctx, params["cluster"])
    ctx.result["moves"] = items = []

    started = []
    for move in params["moves"]:
        item = {"kind": move["kind"], "name": move["name"], "id": move.get("id"), "from": move["from"],
                "to": move["to"].upper(), "status": "ok", "method": None, "seconds": None, "owner": None}
        items.append(item)
        if move["kind"] == "vm" and world.parse_guid(move["id"]) is None:
            item.update(status="failed", error=f"'{move['id']}' is not a VM ID (a GUID)")
            continue
        try:
            obj, owner, state, _ = _placement(ctx, move)
        except CmdletError as err:
            item.update(status="failed", error=f"reading where '{move['name']}' is failed: {err}")
            continue
        item["owner"] = owner
        if owner == item["to"]:
            continue
        if owner != move["from"].upper():
            item.update(status="failed", error=f"'{move['name']}' is on {owner}, not on {move['from'].upper()} as "
                        "planned: it moved since the plan was made; run again to plan from where it is now")
            continue
        if move["kind"] == "csv" or state == "Offline":
            item["method"] = "ownership"
        elif state == "Online":
            item["method"] = method_of_running
        else:
            item.update(status="failed", error=f"the role of '{move['name']}' is {state} (the VM is starting, stopping "
                        "or saving, or failed); it is moved once it is Running, Off or Saved: run again later")
            continue
        if ctx.check_mode:
            item["status"] = "moved"
            ctx.result["changed"] = True
            continue
        started.append((item, obj))

    # A batch starts together: the moves are made in order here, each with its own seconds.
    for item, obj in started:
        try:
            if item["kind"] == "csv":
                item["seconds"] = _move_csv(ctx, obj, item["to"])
            else:
                item["seconds"] = _move_vm(ctx, obj, item["to"], item["method"])
            ctx.mark_changed()
            error = None
        except _Refused as err:
            error = str(err)
            item["seconds"] = 0.0
        try:
            item["owner"] = _placement(ctx, item)[1]
        except CmdletError as err:
            item["owner"] = None
            if error is None:
                error = (f"the cluster returned without an error, but reading where '{item['name']}' is then failed: "
                         f"{err}; run again to see where it is")
        if item["owner"] is not None and item["owner"] == item["to"]:
            item["status"] = "moved"
            ctx.result["changed"] = True
        else:
            item.update(status="failed", error=error or (
                f"the cluster returned without an error, but '{item['name']}' is on {item['owner']}, not on "
                f"{item['to']}, after {item['seconds']} s; it may still be moving: run again to see"))
    return dict(ctx.result)
