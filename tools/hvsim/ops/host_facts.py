"""plugins/modules/host_facts.ps1 in Python: what one node sees, in one round trip, changing nothing
(docs/windows-contract.md, host_facts).

Hyper-V and Windows behaviour modelled here:

- ``Get-VM`` lists only the VMs registered on the host it runs on
  (https://learn.microsoft.com/powershell/module/hyper-v/get-vm); ``Get-VMSnapshot``, ``Get-VMScsiController``,
  ``Get-VMHardDiskDrive`` and ``Get-VMIntegrationService`` read those VMs.
- ``AutomaticCheckpointsEnabled`` exists from Windows build 16299 (version 1709); an older host has no such
  property, so it reads as null (Set-VM, https://learn.microsoft.com/powershell/module/hyper-v/set-vm).
- A hard disk whose file ends in ``.vhds`` is a VHD Set; a shared disk has ``SupportPersistentReservations``
  ("Create Hyper-V VHD Set files", https://learn.microsoft.com/windows-server/virtualization/hyper-v/manage/
  create-vhdset-file; Get-VMHardDiskDrive).
- The cluster cmdlets (``Get-Cluster``, ``Get-ClusterNode``, ``Get-ClusterSharedVolume``,
  ``Get-ClusterGroup``, ``Get-ClusterParameter``) answer cluster-wide: every node sees every role and
  volume. A VM role is Online while its VM runs (Running or Paused) and Offline when it is Off or Saved
  (Get-ClusterGroup, https://learn.microsoft.com/powershell/module/failoverclusters/get-clustergroup).
- ``Get-Acl`` returns the owner and the access rules, explicit and inherited; ``IdentityReference`` is
  translated on this host and stays the SID where it does not resolve (``NT VIRTUAL MACHINE\\<GUID>``
  elsewhere than on the VM's host). See :mod:`hvsim.world`.
- ``vssadmin list writers`` output is returned as text; when it fails (model ``vssadmin_error``), its
  output is returned and a warning says so.

Model keys read beyond docs/hvsim.md's basics: ``nodes[].hyperv_module`` (false: the Hyper-V PowerShell
module is not installed), ``nodes[].vssadmin_error`` (text vssadmin prints when it fails),
``cluster.parameters: null`` (no 'Virtual Machine Cluster WMI' resource).
"""
from datetime import datetime, timezone

from hvsim import world
from hvsim.ops import ModuleFail, operation

SUBSETS = ["cluster", "vms", "checkpoints", "vss_access_control", "vss_writers"]
AUTOMATIC_CHECKPOINTS_MIN_BUILD = 16299
SCHEMA = 1

SPEC = {  # mirrors the $spec of plugins/modules/host_facts.ps1
    "options": {
        "gather_subset": {"type": "list", "elements": "str", "choices": list(SUBSETS), "default": list(SUBSETS)},
        "acl_paths": {"type": "list", "elements": "str", "default": []},
    },
    "supports_check_mode": True,
}
# the cmdlets of plugins/modules/host_facts.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = (
    "Microsoft.PowerShell.Management\\Test-Path", "Microsoft.PowerShell.Management\\Get-Service",
    "FailoverClusters\\Get-Cluster", "FailoverClusters\\Get-ClusterNode", "FailoverClusters\\Get-ClusterGroup",
    "FailoverClusters\\Get-ClusterResource", "FailoverClusters\\Get-ClusterParameter",
    "FailoverClusters\\Get-ClusterSharedVolume",
    "Hyper-V\\Get-VM", "Hyper-V\\Get-VMScsiController", "Hyper-V\\Get-VMHardDiskDrive",
    "Hyper-V\\Get-VMIntegrationService", "Hyper-V\\Get-VMSnapshot",
    "Microsoft.PowerShell.Management\\Get-Item", "Microsoft.PowerShell.Security\\Get-Acl",
)

# Get-ClusterGroup's State for a VM role, from the VM's state.
_ROLE_STATE = {
    "running": "Online", "paused": "Online", "off": "Offline", "saved": "Offline",
    "starting": "Pending", "stopping": "Pending", "saving": "Pending", "pausing": "Pending", "resuming": "Pending",
}


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
        "AutomaticCheckpointsSupported": build >= AUTOMATIC_CHECKPOINTS_MIN_BUILD,
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
            "State": _ROLE_STATE.get(world.vm_state(vm).lower(), "Unknown"),
            "AntiAffinityClassNames": list(vm.get("anti_affinity_class_names") or []),
        })
    return {
        "Name": cluster["name"],
        "Nodes": [{"Name": n["name"].upper(), "State": n.get("state", "Up"), "Id": str(index + 1)}
                  for index, n in enumerate(data.get("nodes") or [])],
        "Parameters": parameters,
        "SharedVolumes": [{"Name": v["name"], "OwnerNode": str(v["owner_node"]).upper(),
                           "State": v.get("state", "Online"), "Path": v["path"]}
                          for v in cluster.get("shared_volumes") or []],
        "VMRoles": roles,
    }


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


def _vm_facts(vm, supported, with_checkpoints):
    disks = [_disk(d) for d in vm.get("hard_disks") or []]
    per_controller = {}
    for disk in disks:
        if disk["ControllerType"].upper() == "SCSI":
            per_controller[disk["ControllerNumber"]] = per_controller.get(disk["ControllerNumber"], 0) + 1
    clustered = bool(vm.get("clustered", False))
    backup = vm.get("backup_integration") or {}
    return {
        "Id": str(vm["id"]).lower(),
        "Name": vm["name"],
        "State": world.vm_state(vm),
        "Generation": int(vm.get("generation", 1)),
        "Version": str(vm.get("version", "10.0")),
        "ProcessorCount": int(vm.get("processor_count", 1)),
        "MemoryStartup": int(vm.get("memory_startup", 1073741824)),
        "DynamicMemoryEnabled": bool(vm.get("dynamic_memory", False)),
        "CheckpointType": vm.get("checkpoint_type", "Production"),
        "AutomaticCheckpointsEnabled": bool(vm.get("automatic_checkpoints", False)) if supported else None,
        "Path": vm.get("path"),
        "IsClustered": clustered,
        "AntiAffinityClassNames": list(vm.get("anti_affinity_class_names") or []) if clustered else [],
        "ScsiControllers": [{"ControllerNumber": n, "DiskCount": per_controller.get(n, 0)}
                            for n in range(int(vm.get("scsi_controllers", 0) or 0))],
        "HardDisks": disks,
        "BackupIntegration": {"Enabled": bool(backup.get("enabled", True)),
                              "PrimaryStatusDescription": backup.get("status")},
        "Checkpoints": [_checkpoint(cp) for cp in vm.get("checkpoints") or []] if with_checkpoints else [],
    }


def _acl(resolver, asked, spec):
    owner = str(spec.get("owner", "S-1-5-32-544")).upper()
    access = []
    for ace in spec.get("access") or []:
        sid = str(ace["sid"]).upper()
        access.append({
            "IdentityReference": resolver.translate(sid),
            "Sid": sid,
            "FileSystemRights": str(ace.get("rights", "FullControl")),
            "AccessControlType": ace.get("type", "Allow"),
            "InheritanceFlags": ace.get("inheritance", "None"),
            "PropagationFlags": ace.get("propagation", "None"),
            "IsInherited": bool(ace.get("inherited", False)),
        })
    return {"Path": asked, "Owner": resolver.translate(owner), "OwnerSid": owner, "Access": access}


@operation("host_facts", SPEC)
def host_facts(ctx, params):
    data = ctx.data
    node = world.find_node(data, ctx.node)
    node_name = node["name"].upper()

    asked = {str(s).lower() for s in params.get("gather_subset") or []}
    subset = [s for s in SUBSETS if s in asked]
    if "checkpoints" in asked and "vms" not in asked:
        raise ModuleFail("host_facts: gather_subset 'checkpoints' needs 'vms'")
    if node.get("hyperv_module", True) is False:
        raise ModuleFail(f"host_facts: the Hyper-V PowerShell module is not available on {node_name}; "
                         "install the Hyper-V management tools")

    acl_paths = list(params.get("acl_paths") or [])
    folders = []
    for item in acl_paths:
        if not world.is_absolute_windows_path(item):
            raise ModuleFail(f"host_facts: acl_paths item '{item}' is not an absolute path")
        found = world.find_folder(data, node_name, item)
        if found is None:
            raise ModuleFail(f"host_facts: acl_paths item '{item}' does not exist on {node_name}")
        folders.append((item, found[1]))

    facts = {"schema": SCHEMA, "gather_subset": subset, "node": _node_facts(node)}
    if "cluster" in subset:
        facts["cluster"] = _cluster_facts(data)
    if "vms" in subset:
        supported = facts["node"]["AutomaticCheckpointsSupported"]
        with_checkpoints = "checkpoints" in subset
        facts["vms"] = [_vm_facts(vm, supported, with_checkpoints) for vm in world.vms_on_node(data, node_name)]
    if "vss_access_control" in subset:
        facts["vss_access_control"] = {str(k): int(v) for k, v in (node.get("vss_access_control") or {}).items()}
    if "vss_writers" in subset:
        error = node.get("vssadmin_error")
        if error:
            facts["vss_writers_text"] = world.VSSADMIN_BANNER + str(error).rstrip("\n") + "\n"
            ctx.warn(f"host_facts: vssadmin list writers failed on {node_name}; vss_writers_text holds its output")
        else:
            facts["vss_writers_text"] = world.render_vssadmin(node.get("vss_writers") or [])
    if folders:
        resolver = world.Resolver(data, node_name)
        facts["acls"] = [_acl(resolver, item, spec) for item, spec in folders]
    return {"changed": False, "ansible_facts": {"hyperv_backup": facts}}
