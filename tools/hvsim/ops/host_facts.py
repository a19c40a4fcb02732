"""plugins/modules/host_facts.ps1 in Python: what one node sees, in one round trip, changing nothing
(docs/windows-contract.md, host_facts).

Hyper-V and Windows behaviour modelled here:

- ``Get-VM`` lists only the VMs registered on the host it runs on
  (https://learn.microsoft.com/powershell/module/hyper-v/get-vm); ``Get-VMSnapshot``, ``Get-VMScsiController``,
  ``Get-VMHardDiskDrive`` and ``Get-VMIntegrationService`` read those VMs.
- ``AutomaticCheckpointsSupported`` is asked of the host, as the .ps1 does: whether its ``Set-VM`` has the
  ``AutomaticCheckpointsEnabled`` parameter (:func:`hvsim.world.set_vm_parameters`); where it does not, the
  VMs' setting reads as null (Set-VM, https://learn.microsoft.com/powershell/module/hyper-v/set-vm).
- One troubled VM never fails the module (the .ps1's fallback, mirrored call for call through
  ``Context.cmdlet`` so that ``faults.cmdlets`` counts the same calls): each cmdlet is called once for all
  VMs and, when that call fails, once per VM. A VM whose read failed and that ``Get-VM -Id`` no longer finds
  (``faults.vanishing_vms``: moved to another node while it was read) is left out with a warning; any
  other VM whose read failed (a critical state, a fault) is reported with null for what could not be read,
  with a warning naming it. A Get-VM property that throws (``faults.cmdlets`` with ``property``) is null.
- A hard disk whose file ends in ``.vhds`` is a VHD Set; a shared disk has ``SupportPersistentReservations``
  ("Create Hyper-V VHD Set files", https://learn.microsoft.com/windows-server/virtualization/hyper-v/manage/
  create-vhdset-file; Get-VMHardDiskDrive).
- The cluster cmdlets (``Get-Cluster``, ``Get-ClusterNode``, ``Get-ClusterSharedVolume``,
  ``Get-ClusterGroup``, ``Get-ClusterParameter``) answer cluster-wide: every node sees every role and
  volume. A VM role is Online while its VM runs (Running or Paused) and Offline when it is Off or Saved
  (Get-ClusterGroup, https://learn.microsoft.com/powershell/module/failoverclusters/get-clustergroup).
- The cluster is read only where the cluster service (ClusSvc) runs (``nodes[].cluster_service``): absent,
  the node is not clustered (``cluster: null``); stopped, ``cluster: null`` with a warning. Where it runs but
  the FailoverClusters PowerShell module is missing (``nodes[].failover_clusters_module: false``; the
  RSAT-Clustering-PowerShell feature), asking for the cluster fails naming the feature.
- ``acl_paths``: a folder the session may not read (``folders[].denied``) is access denied, not missing;
  a UNC path served by another machine is behind the double hop (:func:`hvsim.world.read_folder`).
- ``vhd_set_acls``: the folders that hold the VHD Set files of this node's VMs are the disks' folders as
  ``[System.IO.Path]::GetDirectoryName`` gives them (:func:`hvsim.world.directory_name`); each is read as an
  ``acl_paths`` item is, but one that cannot be read is a warning and is left out, not a failed node.
- ``Get-Acl`` returns the owner and the access rules, explicit and inherited; ``IdentityReference`` is
  translated on this host and stays the SID where it does not resolve (``NT VIRTUAL MACHINE\\<GUID>``
  elsewhere than on the VM's host). See :mod:`hvsim.world`.
- ``vssadmin list writers`` output is returned as text; when it fails (model ``vssadmin_error``), its
  output is returned and a warning says so.

- ``events``: ``Get-WinEvent -FilterHashtable @{LogName; ProviderName; Id; StartTime} -MaxEvents N``, one
  call per log asked, against the node's ``events`` (docs/hvsim.md, "Events"). As the cmdlet does
  (https://learn.microsoft.com/powershell/module/microsoft.powershell.diagnostics/get-winevent): log and
  provider names are compared without regard to case; an event matches when its log, provider and ID are
  among those asked and it was logged at StartTime or later; events come newest first, at most MaxEvents.
  A log the node lacks (``missing_event_logs``) writes the error 'NoMatchingLogsFound', nothing matching
  'NoMatchingEventsFound' (PowerShell's GetEventCommand); the .ps1 takes both as an answer, not a failure.
  An event with ``unreadable`` is one the reader cannot read: it is left out and its log is 'partial'. A
  ``faults.cmdlets`` entry for Get-WinEvent fails the call of that log ('failed', with a warning). The
  hosts' clock is the model's ``clock`` when it has one (the demo's world), else the real time.

Model keys read beyond docs/hvsim.md's basics: ``nodes[].hyperv_module`` (false: the Hyper-V PowerShell
module is not installed), ``nodes[].vssadmin_error`` (text vssadmin prints when it fails),
``nodes[].cluster_service``, ``nodes[].failover_clusters_module``, ``nodes[].set_vm_parameters``,
``folders[].denied``, ``cluster.parameters: null`` (no 'Virtual Machine Cluster WMI' resource), and for CSV
placement ``nodes[].memory_capacity`` (Get-VMHost), ``nodes[].drain_status``, ``vms[].memory_assigned``,
``hard_disks[].file_size`` (Get-VHD; not asked for a shared disk, which Get-VHD reads only from the host using it:
https://learn.microsoft.com/powershell/module/hyper-v/get-vhd), ``vms[].possible_owners`` /
``preferred_owners`` / ``auto_failback`` (Get-ClusterOwnerNode, the group's AutoFailbackType) and the cluster's
``csv_balancer``, ``auto_balancer_mode``, ``auto_balancer_level``, ``cluster_enforced_anti_affinity``
(:mod:`hvsim.world`, "placement").
"""
import re
from datetime import datetime, timedelta, timezone

from hvsim import world
from hvsim.ops import CmdletError, ModuleFail, operation, require_hyperv

SUBSETS = ["cluster", "vms", "checkpoints", "vss_access_control", "vss_writers", "vhd_set_acls", "events"]
SCHEMA = 1

SPEC = {  # mirrors the $spec of plugins/modules/host_facts.ps1
    "options": {
        "gather_subset": {"type": "list", "elements": "str", "choices": list(SUBSETS), "default": list(SUBSETS)},
        "acl_paths": {"type": "list", "elements": "str", "default": []},
        "events_days": {"type": "int", "default": 7},
        "events_max": {"type": "int", "default": 200},
        "event_queries": {"type": "list", "elements": "dict", "default": [], "options": {
            "log_name": {"type": "str", "required": True},
            "provider_name": {"type": "str"},
            "ids": {"type": "list", "elements": "int", "required": True},
            "names_vm": {"type": "bool", "default": False},
        }},
    },
    "supports_check_mode": True,
}
# the cmdlets of plugins/modules/host_facts.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = (
    "Microsoft.PowerShell.Management\\Get-Service",
    "FailoverClusters\\Get-Cluster", "FailoverClusters\\Get-ClusterNode", "FailoverClusters\\Get-ClusterGroup",
    "FailoverClusters\\Get-ClusterResource", "FailoverClusters\\Get-ClusterParameter",
    "FailoverClusters\\Get-ClusterSharedVolume",
    "Hyper-V\\Get-VM", "Hyper-V\\Get-VMScsiController", "Hyper-V\\Get-VMHardDiskDrive",
    "Hyper-V\\Get-VMIntegrationService", "Hyper-V\\Get-VMSnapshot",
    "Microsoft.PowerShell.Management\\Get-Item", "Microsoft.PowerShell.Security\\Get-Acl",
    "Microsoft.PowerShell.Diagnostics\\Get-WinEvent",
    # placement facts
    "Hyper-V\\Get-VMHost", "Hyper-V\\Get-VHD", "FailoverClusters\\Get-ClusterOwnerNode",
)

# Read besides Get-ClusterGroup and Get-ClusterResource when the cluster subset is asked.
CLUSTER_CMDLETS = ("Get-Cluster", "Get-ClusterNode", "Get-ClusterParameter", "Get-ClusterSharedVolume")

DOUBLE_HOP = ("A UNC path is read with the credentials of the WinRM session, which do not reach a second machine "
              "without delegation (the double hop): use CredSSP or Kerberos delegation (ansible_winrm_transport: "
              "credssp, or become with become_method: runas), or read the folder on the server that serves the share")

# Get-Cluster's properties the placement facts read, and the model keys they come from.
CLUSTER_SETTINGS = (("CsvBalancer", "csv_balancer"), ("AutoBalancerMode", "auto_balancer_mode"),
                    ("AutoBalancerLevel", "auto_balancer_level"),
                    ("ClusterEnforcedAntiAffinity", "cluster_enforced_anti_affinity"))


def _iso(value):
    """A model time (string or a YAML-parsed datetime) as ISO 8601 UTC with ``Z``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _node_facts(node):
    build = int(node.get("os_build", 20348))
    name = node["name"].upper()
    return {
        "Name": name,
        "DnsHostName": node.get("fqdn") or name.lower(),
        "OsVersion": f"10.0.{build}",
        "OsBuild": build,
        # asked of the host: does its Set-VM have the parameter (not derived from the build)
        "AutomaticCheckpointsSupported": world.has_set_vm_parameter(node, "AutomaticCheckpointsEnabled"),
    }


def _cluster_facts(data):
    cluster = data.get("cluster")
    if not cluster:
        return None
    if "parameters" in cluster and cluster["parameters"] is None:
        parameters = {"ConfigStoreRootPath": None}  # the resource does not exist
    else:
        root = (cluster.get("parameters") or {}).get("ConfigStoreRootPath")
        parameters = {"ConfigStoreRootPath": "" if root is None else str(root)}
    roles = []
    for vm in data.get("vms") or []:
        if not vm.get("clustered"):
            continue
        roles.append({
            "Name": vm["name"],
            "VMId": str(vm["id"]).lower(),
            "OwnerNode": vm["node"].upper(),
            "State": world.role_state(vm),
            "AntiAffinityClassNames": list(vm.get("anti_affinity_class_names") or []),
            "PossibleOwners": world.possible_owners(data, vm),
            "PreferredOwners": world.preferred_owners(vm),
            "AutoFailbackType": int(vm.get("auto_failback") or 0),
        })
    facts = {
        "Name": cluster["name"],
        "Nodes": [{"Name": n["name"].upper(), "State": n.get("state", "Up"), "Id": str(index + 1),
                   "DrainStatus": n.get("drain_status") or "NotInitiated"}
                  for index, n in enumerate(data.get("nodes") or [])],
        "Parameters": parameters,
        "SharedVolumes": [{"Name": v["name"], "OwnerNode": str(v["owner_node"]).upper(),
                           "State": v.get("state", "Online"), "Path": v["path"]}
                          for v in cluster.get("shared_volumes") or []],
        "VMRoles": roles,
    }
    facts.update({name: world.cluster_setting(data, key) for name, key in CLUSTER_SETTINGS})
    return facts


def _disk(disk):
    path = disk["path"]
    return {
        "Path": path,
        "ControllerType": disk.get("controller_type", "SCSI"),
        "ControllerNumber": int(disk.get("controller_number", 0)),
        "ControllerLocation": int(disk.get("controller_location", 0)),
        "SupportPersistentReservations": bool(disk.get("shared", False)),
        "IsVhdSet": path.lower().endswith(".vhds"),
    }


def _checkpoint(cp):
    return {
        "Id": str(cp["id"]).lower(),
        "Name": cp["name"],
        "SnapshotType": cp.get("type", "Standard"),
        "CreationTime": _iso(cp.get("created")),
        "ParentCheckpointId": str(cp["parent"]).lower() if cp.get("parent") else None,
    }


# The cmdlets read for the VMs, each called once for all of them, and the key of the facts each fills.
VM_READS = (("Get-VMScsiController", "ScsiControllers"), ("Get-VMHardDiskDrive", "HardDisks"),
            ("Get-VMIntegrationService", "BackupIntegration"), ("Get-VMSnapshot", "Checkpoints"))
# Properties of the Get-VM object, in the order of the facts.
VM_PROPERTIES = ("Name", "State", "Generation", "Version", "ProcessorCount", "MemoryStartup", "MemoryAssigned",
                 "DynamicMemoryEnabled",
                 "CheckpointType", "AutomaticCheckpointsEnabled", "Path", "IsClustered")


def _read_for_vms(ctx, cmdlet, vms):
    """One call of ``cmdlet`` for all ``vms``; when it fails, one call per VM, as the .ps1 does.

    Returns ``(failed, empty)``: ``failed`` maps the id of each VM whose read failed to the message,
    ``empty`` is True when the call returned nothing (a ``faults.cmdlets`` entry with ``ignore``)."""
    try:
        return {}, not ctx.cmdlet(cmdlet, vms, reads_configuration=True)
    except CmdletError:
        pass
    failed, empty = {}, False
    for vm in vms:
        try:
            empty = not ctx.cmdlet(cmdlet, [vm], reads_configuration=True) or empty
        except CmdletError as err:
            failed[str(vm["id"]).lower()] = f"{cmdlet}: {err}"
    return failed, empty


def _vm_properties(ctx, vm, supported):
    """The Get-VM properties of the facts; a property that throws is None, with ``(key, message)`` in problems."""
    values = {
        "Name": vm["name"],
        "State": world.vm_state(vm),
        "Generation": int(vm.get("generation", 1)),
        "Version": str(vm.get("version", "10.0")),
        "ProcessorCount": int(vm.get("processor_count", 1)),
        "MemoryStartup": int(vm.get("memory_startup", 1073741824)),
        "MemoryAssigned": world.memory_assigned(vm),
        "DynamicMemoryEnabled": bool(vm.get("dynamic_memory", False)),
        "CheckpointType": vm.get("checkpoint_type", "Production"),
        "AutomaticCheckpointsEnabled": bool(vm.get("automatic_checkpoints", False)) if supported else None,
        "Path": vm.get("path"),
        "IsClustered": bool(vm.get("clustered", False)),
    }
    problems = []
    for key in VM_PROPERTIES:
        if key == "AutomaticCheckpointsEnabled" and not supported:
            continue
        error = ctx.property_error(vm, key)
        if error:
            values[key] = None
            problems.append((key, error))
    return values, problems


def _is_sized(disk):
    """Whether host_facts asks Get-VHD for a disk's size: not for a shared disk (a VHD Set, or a VHDX with
    persistent reservations). Get-VHD reads a VHD in use on shared storage only from the host using it
    (https://learn.microsoft.com/powershell/module/hyper-v/get-vhd, the note), and a shared disk is used by
    the VMs of several hosts; its FileSize is null."""
    path = disk.get("path")
    return bool(path) and not disk.get("shared") and not str(path).lower().endswith(".vhds")


def _read_disk_sizes(ctx, listing, unread):
    """Get-VHD once for the paths of every sized disk of the VMs whose disks were read, per path when that
    fails, as the .ps1 does. Returns ``{(vm id, disk index): (FileSize or None, problem or None)}``."""
    wanted = [(vm, index, disk) for vm in listing if "HardDisks" not in unread.get(str(vm["id"]).lower(), {})
              for index, disk in enumerate(vm.get("hard_disks") or []) if _is_sized(disk)]
    if not wanted:
        return {}
    owners = list({str(vm["id"]).lower(): vm for vm, _, _ in wanted}.values())
    sizes = {}
    try:
        returned = ctx.cmdlet("Get-VHD", owners)
        for vm, index, disk in wanted:
            sizes[(str(vm["id"]).lower(), index)] = (world.disk_file_size(disk), None) if returned else \
                (None, f"Get-VHD returned no object for {disk['path']}")
        return sizes
    except CmdletError:
        pass
    for vm, index, disk in wanted:
        key = (str(vm["id"]).lower(), index)
        try:
            returned = ctx.cmdlet("Get-VHD", [vm])
        except CmdletError as err:
            sizes[key] = (None, f"Get-VHD: {err}")
            continue
        sizes[key] = (world.disk_file_size(disk), None) if returned else \
            (None, f"Get-VHD returned no object for {disk['path']}")
    return sizes


def _vm_facts(ctx, vm, supported, with_checkpoints, anti_affinity, unread, empty, sizes=None):
    """The facts of one VM; ``unread`` maps the keys whose cmdlet failed for it to the message, ``empty`` the
    keys whose cmdlet returned nothing, ``sizes`` the disk sizes Get-VHD read (:func:`_read_disk_sizes`).
    Returns ``(facts, problems)``."""
    values, problems = _vm_properties(ctx, vm, supported)
    sizes = sizes or {}
    disks = []
    for index, model_disk in enumerate(vm.get("hard_disks") or []):
        disk = _disk(model_disk)
        size, problem = sizes.get((str(vm["id"]).lower(), index), (None, None))
        disk["FileSize"] = size
        if problem:
            problems.append((f"FileSize of {disk['Path']}", problem))
        disks.append(disk)
    per_controller = {}
    for disk in disks:
        if disk["ControllerType"].upper() == "SCSI":
            per_controller[disk["ControllerNumber"]] = per_controller.get(disk["ControllerNumber"], 0) + 1
    backup = vm.get("backup_integration") or {}
    facts = {"Id": str(vm["id"]).lower()}
    facts.update(values)
    facts.update({
        "AntiAffinityClassNames": list(vm.get("anti_affinity_class_names") or [])
        if anti_affinity and values["IsClustered"] else [],
        "ScsiControllers": [{"ControllerNumber": n,
                             "DiskCount": None if "HardDisks" in unread else per_controller.get(n, 0)}
                            for n in range(int(vm.get("scsi_controllers", 0) or 0))],
        "HardDisks": disks,
        # null: the VM has no Backup (volume shadow copy) integration service, as Get-VMIntegrationService
        # then lists none with its component ID (docs/windows-contract.md, host_facts)
        "BackupIntegration": None if "backup_integration" in vm and vm["backup_integration"] is None
        else {"Enabled": bool(backup.get("enabled", True)), "PrimaryStatusDescription": backup.get("status")},
        "Checkpoints": [_checkpoint(cp) for cp in vm.get("checkpoints") or []] if with_checkpoints else [],
    })
    for key in empty:
        facts[key] = None if key == "BackupIntegration" else []
    for key, message in sorted(unread.items()):
        facts[key] = None
        problems.append((key, message))
    return facts, problems


def _read_vms(ctx, node_name, supported, with_checkpoints, anti_affinity):
    """What the .ps1 reads for the VMs: Get-VM once, each other cmdlet once for all VMs (per VM when that
    fails); a VM gone from the node is left out, one read in part keeps the rest, each with a warning."""
    listing = world.vms_on_node(ctx.data, node_name)
    try:
        ctx.cmdlet("Get-VM", listing)
    except CmdletError as err:
        raise ModuleFail(f"host_facts: reading the VMs on {node_name} failed: {err}") from None
    unread, empty = {}, set()
    if listing:
        for cmdlet, key in VM_READS:
            if key == "Checkpoints" and not with_checkpoints:
                continue
            failed, nothing = _read_for_vms(ctx, cmdlet, listing)
            for vm_id, message in failed.items():
                unread.setdefault(vm_id, {})[key] = message
            if nothing:
                empty.add(key)
    sizes = _read_disk_sizes(ctx, listing, unread)
    vms = []
    for vm in listing:
        vm_id = str(vm["id"]).lower()
        if vm_id in unread:
            try:
                ctx.cmdlet("Get-VM", [vm])
            except CmdletError as err:
                ctx.warn(f"host_facts: VM '{vm['name']}' ({vm_id}) was listed on {node_name} but is no longer there "
                         f"(moved to another node or removed while it was read), so it is left out: {err}")
                continue
        facts, problems = _vm_facts(ctx, vm, supported, with_checkpoints, anti_affinity,
                                    unread.get(vm_id, {}), empty, sizes)
        if problems:
            details = "; ".join(f"{key} ({message})" for key, message in problems)
            ctx.warn(f"host_facts: VM '{vm['name']}' ({vm_id}) on {node_name} is reported in part, with null for "
                     f"what could not be read: {details}")
        vms.append(facts)
    return vms


def _acl(resolver, asked, spec):
    owner = str(spec.get("owner", "S-1-5-32-544")).upper()
    access = [world.access_rule(resolver, ace) for ace in spec.get("access") or []]
    return {"Path": asked, "Owner": resolver.translate(owner), "OwnerSid": owner, "Access": access}


def _acl_path_error(item, node_name, problem, what="acl_paths item"):
    """The module's message for a folder (``what``: an ``acl_paths`` item, a VHD Set folder) that cannot be
    read (see ``world.read_folder``)."""
    kind, message = problem
    if world.unc_root(item) is not None and kind != "missing":
        return (f"host_facts: {what} '{item}' cannot be read from {node_name}: {message} {DOUBLE_HOP}")
    if kind == "missing":
        return f"host_facts: {what} '{item}' does not exist on {node_name}"
    return (f"host_facts: {what} '{item}' cannot be read on {node_name}: {message} The account Ansible "
            "connects with needs the right to read its permissions")


# The provider that writes each log's events when the model does not name one.
DEFAULT_PROVIDERS = {
    "microsoft-windows-hyper-v-vmms-admin": "Microsoft-Windows-Hyper-V-VMMS",
    "microsoft-windows-hyper-v-worker-admin": "Microsoft-Windows-Hyper-V-Worker",
}
MESSAGE_LIMIT = 2000
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _time(value):
    """A model time (text or a YAML-parsed datetime) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def host_clock(data):
    """What Get-Date says on the hosts: the model's ``clock``, else the real time."""
    return _time(data["clock"]) if data.get("clock") else datetime.now(timezone.utc)


def _get_winevent(ctx, node, query, since, max_events):
    """One ``Get-WinEvent -FilterHashtable`` call: ``(events newest first, error ids written)``, the events as
    the model holds them. Raises CmdletError for a faults.cmdlets entry."""
    ctx.cmdlet("Get-WinEvent")
    log = query["log_name"].lower()
    if log in {str(name).lower() for name in node.get("missing_event_logs") or []}:
        return [], ["NoMatchingLogsFound"]
    provider = (query.get("provider_name") or "").lower()
    ids = set(query["ids"])
    found = []
    for event in node.get("events") or []:
        if str(event["log"]).lower() != log or event["id"] not in ids or _time(event["time"]) < since:
            continue
        writer = event.get("provider") or DEFAULT_PROVIDERS.get(log) or ""
        if provider and writer.lower() != provider:
            continue
        found.append(event)
    found.sort(key=lambda e: _time(e["time"]), reverse=True)  # newest first, as without -Oldest
    found = found[:max_events]
    return found, ([] if found else ["NoMatchingEventsFound"])


def _event_facts(event, query):
    """One event as the .ps1 reports it."""
    log_key = str(event["log"]).lower()
    message = str(event.get("message") or "").strip()
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + "..."
    vm_id = None
    if query.get("names_vm"):
        if event.get("vm_id"):
            vm_id = str(event["vm_id"]).lower()  # the event data's VmId
        else:
            found = _GUID.findall(message)  # the last GUID: Hyper-V's messages end with the VM ID
            vm_id = found[-1].lower() if found else None
    return {
        "LogName": event["log"],
        "ProviderName": event.get("provider") or DEFAULT_PROVIDERS.get(log_key),
        "Id": int(event["id"]),
        "Level": int(event.get("level", 2)),
        "TimeCreated": _iso(event["time"]),
        "Message": message,
        "VMId": vm_id,
    }


def _read_events(ctx, node, params):
    """``(events, event_logs)``: the .ps1's events section, one Get-WinEvent call per query."""
    options = SPEC["options"]
    days = params.get("events_days", options["events_days"]["default"])
    maximum = params.get("events_max", options["events_max"]["default"])
    node_name = node["name"].upper()
    if days < 1 or maximum < 1:
        raise ModuleFail(f"host_facts: events_days ({days}) and events_max ({maximum}) must be at least 1")
    until = host_clock(ctx.data)
    since = until - timedelta(days=days)
    events, logs = [], []
    for query in params.get("event_queries") or []:
        log = {"log": query["log_name"], "provider": query.get("provider_name"), "ids": list(query["ids"]),
               "status": "read", "count": 0, "truncated": False, "error": None}
        logs.append(log)
        try:
            found, errors = _get_winevent(ctx, node, query, since, maximum + 1)
        except CmdletError as err:
            log.update(status="failed", error=str(err))
            ctx.warn(f"host_facts: reading the event log '{query['log_name']}' on {node_name} failed, so its events "
                     f"are not reported: {err}")
            continue
        if "NoMatchingLogsFound" in errors:
            log["status"] = "missing"
        if len(found) > maximum:
            log["truncated"] = True
            found = found[:maximum]
        problems = []
        for event in found:
            if event.get("unreadable"):
                problems.append(str(event["unreadable"]))
                continue
            events.append(_event_facts(event, query))
            log["count"] += 1
        if problems:
            log.update(status="partial" if log["count"] else "failed", error=problems[0])
            ctx.warn(f"host_facts: {len(problems)} error(s) reading the event log '{query['log_name']}' on {node_name}; "
                     f"an event that could not be read is left out: {problems[0]}")
    return events, {"days": days, "since": _iso(since), "until": _iso(until), "max_per_log": maximum, "logs": logs}


def _vhd_set_folders(ctx, node_name, vms, already):
    """``vhd_set_acls``: ``[(folder, spec)]`` of the folders that hold a VHD Set file of a VM of this node, each
    once (paths compare without regard to case), sorted, leaving out those in ``already`` (read for
    ``acl_paths``). A folder that cannot be read is a warning: it was not asked for by name."""
    folders = {}
    for vm in vms:
        for disk in vm.get("HardDisks") or []:
            if disk.get("IsVhdSet"):
                folder = world.directory_name(disk["Path"])
                folders.setdefault(world.path_key(folder), folder)
    read = []
    for key in sorted(folders):
        if key in already:
            continue
        spec, problem = world.read_folder(ctx.data, node_name, folders[key])
        if problem:
            ctx.warn(f"{_acl_path_error(folders[key], node_name, problem, 'VHD Set folder')}; its ACL is left out of acls")
            continue
        read.append((folders[key], spec))
    return read


def _cluster(ctx, node, subset):
    """``(cluster facts or None, whether AntiAffinityClassNames could be read)``, as the .ps1 decides."""
    node_name = node["name"].upper()
    wanted = "cluster" in subset
    service = world.cluster_service(ctx.data, node)
    if service is None or not (wanted or "vms" in subset):
        return None, False
    if service != "Running":
        ctx.warn(f"host_facts: the cluster service (ClusSvc) is {service} on {node_name}, so the failover cluster is "
                 "not read there: cluster is null and every VM's AntiAffinityClassNames is []; start the cluster "
                 "service (Start-ClusterNode) to read it")
        return None, False
    if node.get("failover_clusters_module", True) is False:
        message = (f"{node_name} runs the cluster service (ClusSvc) but has no FailoverClusters PowerShell module, so "
                   "its failover cluster cannot be read; install it: Install-WindowsFeature RSAT-Clustering-PowerShell")
        if wanted:
            raise ModuleFail(f"host_facts: {message}")
        ctx.warn(f"host_facts: {message} (every VM's AntiAffinityClassNames is [])")
        return None, False
    try:
        for cmdlet in ("Get-ClusterGroup", "Get-ClusterResource") + (CLUSTER_CMDLETS if wanted else ()):
            ctx.cmdlet(cmdlet)
    except CmdletError as err:
        if wanted:
            raise ModuleFail(f"host_facts: reading the failover cluster on {node_name} failed: {err}") from None
        ctx.warn(f"host_facts: reading the failover cluster on {node_name} failed, so AntiAffinityClassNames is [] "
                 f"for every VM: {err}")
        return None, False
    if not wanted:
        return None, True
    facts = _cluster_facts(ctx.data)
    _read_owner_lists(ctx, facts)
    return facts, True


def _read_owner_lists(ctx, cluster):
    """Get-ClusterOwnerNode for every VM group (preferred owners), then for every VM resource (possible
    owners), each one call for all of them piped in, per group or resource when that fails, as the .ps1
    does. A role whose list could not be read has null for it, with one warning per role."""
    by_id = {str(vm["id"]).lower(): vm for vm in ctx.data.get("vms") or []}
    roles = cluster["VMRoles"]
    vms = [by_id[role["VMId"]] for role in roles]
    problems = {}
    for key in ("PreferredOwners", "PossibleOwners"):
        if not vms:
            break
        try:
            ctx.cmdlet("Get-ClusterOwnerNode", vms)
            continue
        except CmdletError:
            pass
        for role, vm in zip(roles, vms):
            try:
                ctx.cmdlet("Get-ClusterOwnerNode", [vm])
            except CmdletError as err:
                role[key] = None
                problems.setdefault(role["Name"], []).append(f"{key} (Get-ClusterOwnerNode: {err})")
    for name, details in problems.items():
        ctx.warn(f"host_facts: VM role '{name}' is reported in part, with null for what could not be read: "
                 f"{'; '.join(details)}")


def _memory_capacity(ctx, node_name):
    """``(Get-VMHost).MemoryCapacity``, or None with a warning when Get-VMHost fails."""
    node = world.find_node(ctx.data, node_name)
    try:
        ctx.cmdlet("Get-VMHost")
    except CmdletError as err:
        ctx.warn(f"host_facts: reading the memory capacity of {node_name} failed, so MemoryCapacity is null: "
                 f"Get-VMHost: {err}")
        return None
    return world.memory_capacity(node)


@operation("host_facts", SPEC)
def host_facts(ctx, params):
    data = ctx.data
    node = world.find_node(data, ctx.node)
    node_name = node["name"].upper()
    ctx.result["changed"] = False

    asked = {str(s).lower() for s in params.get("gather_subset") or []}
    subset = [s for s in SUBSETS if s in asked]
    if "checkpoints" in asked and "vms" not in asked:
        raise ModuleFail("host_facts: gather_subset 'checkpoints' needs 'vms'")
    if "vhd_set_acls" in asked and "vms" not in asked:
        raise ModuleFail("host_facts: gather_subset 'vhd_set_acls' needs 'vms'")
    require_hyperv(ctx, "host_facts")

    acl_paths = list(params.get("acl_paths") or [])
    folders = []
    for item in acl_paths:
        if not world.is_absolute_windows_path(item):
            raise ModuleFail(f"host_facts: acl_paths item '{item}' is not an absolute path")
        spec, problem = world.read_folder(data, node_name, item)
        if problem:
            raise ModuleFail(_acl_path_error(item, node_name, problem))
        folders.append((item, spec))

    facts = {"schema": SCHEMA, "gather_subset": subset, "node": _node_facts(node)}
    facts["node"]["MemoryCapacity"] = _memory_capacity(ctx, node_name)
    cluster, anti_affinity = _cluster(ctx, node, subset)
    if "cluster" in subset:
        facts["cluster"] = cluster
    if "vms" in subset:
        supported = facts["node"]["AutomaticCheckpointsSupported"]
        facts["vms"] = _read_vms(ctx, node_name, supported, "checkpoints" in subset, anti_affinity)
    if "vss_access_control" in subset:
        # GetValue: a REG_DWORD is an int, a REG_SZ (a value someone wrote with the wrong type) a string
        facts["vss_access_control"] = {str(k): v if isinstance(v, int) and not isinstance(v, bool) else str(v)
                                       for k, v in (node.get("vss_access_control") or {}).items()}
    if "vss_writers" in subset:
        error = node.get("vssadmin_error")
        if error:
            facts["vss_writers_text"] = world.VSSADMIN_BANNER + str(error).rstrip("\n") + "\n"
            ctx.warn(f"host_facts: vssadmin list writers failed on {node_name}; vss_writers_text holds its output")
        else:
            facts["vss_writers_text"] = world.render_vssadmin(node.get("vss_writers") or [])
    if "events" in subset:
        facts["events"], facts["event_logs"] = _read_events(ctx, node, params)
    if "vhd_set_acls" in subset:
        folders += _vhd_set_folders(ctx, node_name, facts["vms"], {world.path_key(item) for item, _ in folders})
    if folders or "vhd_set_acls" in subset:
        resolver = world.Resolver(data, node_name)
        facts["acls"] = [_acl(resolver, item, spec) for item, spec in folders]
    return {"changed": False, "ansible_facts": {"hyperv_backup": facts}}
