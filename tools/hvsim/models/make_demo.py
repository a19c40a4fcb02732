"""Generate tools/hvsim/models/demo.yml: the demo cluster, with the drift a backup readiness run should find.

Deterministic: VM, checkpoint and writer-instance GUIDs are uuid5 names under a fixed namespace, the few
varied values (memory, guest shut-down times) come from a seeded random generator, and times are fixed.
Run it after changing it and commit both files:

    python tools/hvsim/models/make_demo.py            # rewrite demo.yml beside this file
    python tools/hvsim/models/make_demo.py --check    # exit 1 when demo.yml is not what this generates

The drift is planted explicitly in ``VMS`` and ``build()``; the comment block at the top of demo.yml is
computed from the generated data, so it always says what the file holds.
"""
import argparse
import os
import random
import struct
import sys
import uuid
from datetime import datetime, timedelta, timezone

import yaml

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://hvsim.invalid/models/demo")
SEED = 20261102
# The clock of the demo world: checkpoint times are relative to it.
REFERENCE_TIME = datetime(2026, 11, 20, 6, 0, 0, tzinfo=timezone.utc)
DOMAIN = "LAB"
DNS_DOMAIN = "lab.example"
DOMAIN_SID = "S-1-5-21-2915421087-3156798434-1849367124"
BACKUP_ACCOUNT = "LAB\\svc-veeam"
NODES = ["HV01", "HV02", "HV03"]
NODE_WITHOUT_BACKUP_ACCOUNT = "HV03"
# The Hyper-V writer of this node is Stable again but keeps the last error of a failed backup ("Retryable error"):
# a warning no module fixes (restarting VMMS clears it), so the demo's last audit passes its gate with warnings.
NODE_WITH_WRITER_ERROR = "HV02"
CLUSTER = "HVC01"
GB = 1024 ** 3

# (volume number, owner node) of each Cluster Shared Volume.
VOLUMES = [(1, "HV01"), (2, "HV02"), (3, "HV03")]

# Hyper-V host writers as `vssadmin list writers` shows them on Windows Server 2022 (writer ids are fixed
# per writer; instance ids are per boot, derived here from node and writer).
WRITERS = [
    ("Task Scheduler Writer", "d61d61c8-d73a-4eee-8cdd-f6f9786b7124"),
    ("VSS Metadata Store Writer", "75dfb225-e2e4-4d39-9ac9-ffaff65ddf06"),
    ("Performance Counters Writer", "0bada1de-01a9-4625-8278-69e735f39dd2"),
    ("System Writer", "e8132975-6f93-4464-a53e-1050253ae220"),
    ("Microsoft Hyper-V VSS Writer", "66841cd4-6ded-4f4b-8f17-fd23f8ddc3de"),
    ("Cluster Shared Volume VSS Writer", "1072ae1c-e5a7-4ea1-9e4a-6f7964656570"),
    ("ASR Writer", "be000cbe-11fe-4426-9c58-531aa6355fc4"),
    ("Shadow Copy Optimization Writer", "4dc3bdd4-ab48-4d07-adb0-3bee2926fd7f"),
    ("Registry Writer", "afbab4a2-367d-4d15-a586-71dbb18f8485"),
    ("Cluster Database", "41e12264-35d8-479b-8e5c-9b23d1dad37e"),
    ("COM+ REGDB Writer", "542da469-d3e1-473c-9f4f-7847f01fc64f"),
    ("WMI Writer", "a6ad56c2-b509-4e6c-bb19-49d8f43532f0"),
]
HYPERV_WRITER = "Microsoft Hyper-V VSS Writer"

# name, generation, vCPUs, startup memory (GB), CSV volume, node, state, data disks, drift/extras.
# Generation 2 VMs boot from SCSI 0:0; generation 1 VMs boot from IDE 0:0 and keep data on SCSI when they
# have a SCSI controller.
VMS = [
    ("DC01", 2, 2, 4, 1, "HV01", "Running", 0, {}),
    ("DC02", 2, 2, 4, 3, "HV03", "Running", 0, {}),
    ("SQL01", 2, 8, 32, 1, "HV01", "Running", 2, {"checkpoint_type": "ProductionOnly"}),
    ("SQL02", 2, 8, 32, 1, "HV02", "Running", 2, {"checkpoint_type": "Disabled"}),
    ("EXCH01", 2, 8, 24, 2, "HV02", "Running", 2, {}),
    ("EXCH02", 2, 8, 24, 2, "HV01", "Running", 2, {"checkpoint_type": "Disabled"}),
    ("FS01", 2, 4, 8, 3, "HV03", "Running", 1, {"stale_recovery": True}),
    ("FS02", 2, 4, 8, 3, "HV01", "Running", 1, {}),
    ("WEB01", 2, 2, 4, 1, "HV01", "Running", 0, {"checkpoint_type": "Standard"}),
    ("WEB02", 2, 2, 4, 1, "HV02", "Running", 0, {"checkpoint_type": "Standard"}),
    ("WEB03", 2, 2, 4, 2, "HV02", "Running", 0, {"automatic_checkpoints": True}),
    ("WEB04", 2, 2, 4, 2, "HV03", "Running", 0, {}),
    ("APP01", 2, 4, 8, 1, "HV01", "Running", 1, {}),
    ("APP02", 2, 4, 8, 2, "HV02", "Running", 1, {"backup_integration": False}),
    ("APP03", 2, 4, 8, 3, "HV02", "Running", 0, {"checkpoint_type": "Standard", "user_checkpoints": True}),
    ("RDS01", 2, 4, 16, 3, "HV03", "Running", 0, {}),
    ("RDS02", 2, 4, 16, 3, "HV03", "Running", 0, {"checkpoint_type": "Standard"}),
    ("PRINT01", 1, 2, 4, 1, "HV01", "Running", 1, {"version": "9.0"}),
    ("CA01", 2, 2, 4, 2, "HV02", "Running", 0, {}),
    ("WSUS01", 1, 2, 8, 3, "HV03", "Running", 1, {"version": "9.0"}),
    ("MON01", 2, 4, 8, 3, "HV03", "Running", 1, {}),
    ("JUMP01", 2, 2, 4, 1, "HV01", "Saved", 0, {"checkpoint_type": "Standard"}),
    ("BUILD01", 2, 4, 8, 3, "HV03", "Off", 1,
     {"checkpoint_type": "Standard", "automatic_checkpoints": True}),
    ("LEGACY-ERP", 1, 2, 8, 1, "HV02", "Running", 1, {"no_scsi": True, "version": "8.0"}),
    ("OLD-CRM01", 1, 2, 4, 1, "HV01", "Off", 0, {"no_scsi": True, "version": "8.0"}),
    ("VEEAM-PROXY01", 2, 4, 8, 1, "HV01", "Running", 0, {}),
    ("VEEAM-PROXY02", 2, 4, 8, 2, "HV02", "Running", 0, {}),
    ("VEEAM-PROXY03", 2, 4, 8, 3, "HV03", "Running", 0, {}),
    ("GC-SQL-N1", 2, 8, 32, 2, "HV02", "Running", 0, {"guest_cluster": True}),
    ("GC-SQL-N2", 2, 8, 32, 2, "HV03", "Running", 0, {"guest_cluster": True}),
]
GUEST_CLUSTER_FOLDER = "C:\\ClusterStorage\\Volume2\\GuestCluster-SQL"
GUEST_CLUSTER_DISKS = ["sqldata.vhds", "quorum.vhds"]
GUEST_CLUSTER_GRANTED = "GC-SQL-N1"  # the only guest node whose virtual account has (OI)F on the folder

# CSV placement: what the placement planner reads and what hvsim's cluster moves obey.
NODE_MEMORY_GB = {"HV01": 256, "HV02": 256, "HV03": 192}
# The cluster's balancing settings as Windows Server ships them on a SAN-backed cluster: the CSV balancer on,
# VM load balancing on node join and every 30 minutes at the low level (80 %), anti-affinity not enforced.
CLUSTER_PLACEMENT = {"csv_balancer": 1, "auto_balancer_mode": 2, "auto_balancer_level": 1,
                     "cluster_enforced_anti_affinity": 0, "live_migration_rate": GB}
# A VM restricted to some nodes (a licence dongle on HV02 and HV03): it may join its CSV's owner HV02, but
# Cluster Disk 2 may not move to HV01 with it.
POSSIBLE_OWNERS = {"WEB04": ["HV02", "HV03"]}
# A VM that fails back to its first preferred owner: a move away from HV02 may be undone.
PREFERRED_OWNERS = {"SQL02": (["HV02", "HV01"], 1)}
# Virtual disk file sizes (GB): the system disk, and each data disk by the VM's name prefix.
OS_DISK_GB = {1: 60, 2: 40}
DATA_DISK_GB = {"SQL": 400, "EXCH": 300, "FS": 800, "GC-SQL": 200}
DEFAULT_DATA_DISK_GB = 100

ACCOUNTS = {
    "LAB\\Domain Admins": 512,
    "LAB\\svc-veeam": 1105,
    "LAB\\hv-admins": 1106,
    "LAB\\svc-sql": 1107,
    "LAB\\HVC01$": 1108,
    "LAB\\HV01$": 1109,
    "LAB\\HV02$": 1110,
    "LAB\\HV03$": 1111,
}

SYSTEM, ADMINISTRATORS, CREATOR_OWNER, VIRTUAL_MACHINES = "S-1-5-18", "S-1-5-32-544", "S-1-3-0", "S-1-5-83-0"
GENERIC_ALL = "268435456"  # how (Get-Acl).Access prints GENERIC_ALL on an inherit-only CREATOR OWNER ACE


def guid(*parts):
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def vm_sid(vm_id):
    """The SID of ``NT VIRTUAL MACHINE\\<vm_id>`` (kept local: hvsim.world has the same rule)."""
    return "S-1-5-83-1-" + "-".join(str(p) for p in struct.unpack("<4I", uuid.UUID(vm_id).bytes_le))


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def backup_checkpoint_name(vm_name, moment):
    """Hyper-V names a backup's recovery checkpoint '<VM> - Backup - (M/D/YYYY - h:mm:ss AM)'."""
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{vm_name} - Backup - ({moment.month}/{moment.day}/{moment.year} - {hour}:{moment:%M:%S} {half})"


def ace(sid, rights, inheritance="ContainerInherit, ObjectInherit", propagation="None", inherited=False):
    return {"sid": sid, "rights": rights, "type": "Allow", "inheritance": inheritance,
            "propagation": propagation, "inherited": inherited}


def volume_acl(inherited):
    """The ACL of a CSV volume root (explicit there, inherited by the folders below it)."""
    return [
        ace(SYSTEM, "FullControl", inherited=inherited),
        ace(ADMINISTRATORS, "FullControl", inherited=inherited),
        ace(CREATOR_OWNER, GENERIC_ALL, propagation="InheritOnly", inherited=inherited),
        ace(VIRTUAL_MACHINES, "ReadAndExecute, Synchronize", inherited=inherited),
    ]


def make_vm(rng, spec):
    name, generation, cpus, memory_gb, volume, node, state, data_disks, extra = spec
    vm_id = guid("vm", name)
    folder = f"C:\\ClusterStorage\\Volume{volume}\\{name}"
    vhd_folder = folder + "\\Virtual Hard Disks"
    disks = []
    no_scsi = extra.get("no_scsi", False)
    if generation == 1:
        disks.append({"path": f"{vhd_folder}\\{name}_OS.vhdx", "controller_type": "IDE",
                      "controller_number": 0, "controller_location": 0, "shared": False})
        for n in range(data_disks):
            if no_scsi:  # data on the second IDE channel: the VM has no SCSI controller at all
                disks.append({"path": f"{vhd_folder}\\{name}_Data{n + 1}.vhdx", "controller_type": "IDE",
                              "controller_number": 1, "controller_location": n, "shared": False})
            else:
                disks.append({"path": f"{vhd_folder}\\{name}_Data{n + 1}.vhdx", "controller_type": "SCSI",
                              "controller_number": 0, "controller_location": n, "shared": False})
        scsi_controllers = 0 if no_scsi else 1
    else:
        for n in range(data_disks + 1):
            label = "OS" if n == 0 else f"Data{n}"
            disks.append({"path": f"{vhd_folder}\\{name}_{label}.vhdx", "controller_type": "SCSI",
                          "controller_number": 0, "controller_location": n, "shared": False})
        scsi_controllers = 1
    if extra.get("guest_cluster"):
        scsi_controllers = 2  # the shared VHD Sets on their own controller
        for n, disk in enumerate(GUEST_CLUSTER_DISKS):
            disks.append({"path": f"{GUEST_CLUSTER_FOLDER}\\{disk}", "controller_type": "SCSI",
                          "controller_number": 1, "controller_location": n, "shared": True})

    running = state == "Running"
    backup_enabled = extra.get("backup_integration", True)
    checkpoints = []
    if extra.get("stale_recovery"):
        created = REFERENCE_TIME - timedelta(days=23, hours=7, minutes=44, seconds=58)
        checkpoints.append({"id": guid("checkpoint", name, "recovery"), "name": backup_checkpoint_name(name, created),
                            "type": "Recovery", "created": iso(created), "parent": None})
    if extra.get("user_checkpoints"):
        first = REFERENCE_TIME - timedelta(days=41, hours=3)
        second = REFERENCE_TIME - timedelta(days=12, hours=5)
        first_id = guid("checkpoint", name, "before-patching")
        checkpoints.append({"id": first_id, "name": f"{name} - before patching", "type": "Standard",
                            "created": iso(first), "parent": None})
        checkpoints.append({"id": guid("checkpoint", name, "after-upgrade"), "name": f"{name} - after app upgrade",
                            "type": "Standard", "created": iso(second), "parent": first_id})

    # Database and mail servers keep static memory; the others draw it.
    dynamic = not name.startswith(("SQL", "EXCH", "GC-SQL")) and rng.random() < 0.5
    vm = {
        "id": vm_id,
        "name": name,
        "node": node,
        "state": state,
        "generation": generation,
        "version": extra.get("version", "10.0"),
        "processor_count": cpus,
        "memory_startup": memory_gb * GB,
        "dynamic_memory": dynamic,
        "checkpoint_type": extra.get("checkpoint_type", "Production"),
        "automatic_checkpoints": extra.get("automatic_checkpoints", False),
        "path": folder,
        "clustered": True,
        "anti_affinity_class_names": ["GC-SQL"] if extra.get("guest_cluster") else [],
        "scsi_controllers": scsi_controllers,
        "hard_disks": disks,
        # Get-VMIntegrationService reports a status only for an enabled service of a running VM.
        "backup_integration": {"enabled": backup_enabled, "status": "OK" if running and backup_enabled else None},
        "checkpoints": checkpoints,
        "guest": {"shutdown_seconds": rng.randrange(15, 95, 5), "honours_shutdown": True},
    }
    add_placement(vm, generation)
    return vm


def add_placement(vm, generation):
    """What CSV placement reads of a VM: the memory it holds, its disks' sizes, its owners."""
    name = vm["name"]
    if vm["state"] == "Running":
        # a VM with dynamic memory holds less than its startup memory once settled
        vm["memory_assigned"] = vm["memory_startup"] * 3 // 4 if vm["dynamic_memory"] else vm["memory_startup"]
    data_gb = next((size for prefix, size in DATA_DISK_GB.items() if name.startswith(prefix)), DEFAULT_DATA_DISK_GB)
    for disk in vm["hard_disks"]:
        if not disk["shared"]:
            disk["file_size"] = (OS_DISK_GB[generation] if disk["path"].endswith("_OS.vhdx") else data_gb) * GB
    if name in POSSIBLE_OWNERS:
        vm["possible_owners"] = list(POSSIBLE_OWNERS[name])
    if name in PREFERRED_OWNERS:
        vm["preferred_owners"], vm["auto_failback"] = list(PREFERRED_OWNERS[name][0]), PREFERRED_OWNERS[name][1]


def build():
    rng = random.Random(SEED)
    nodes = []
    for node in NODES:
        writers = []
        for writer_name, writer_id in WRITERS:
            failed = node == NODE_WITH_WRITER_ERROR and writer_name == HYPERV_WRITER
            writers.append({"name": writer_name, "id": "{" + writer_id + "}",
                            "instance_id": "{" + guid("writer-instance", node, writer_name) + "}",
                            "state": 1, "last_error": "Retryable error" if failed else "No error"})
        access = {} if node == NODE_WITHOUT_BACKUP_ACCOUNT else {BACKUP_ACCOUNT: 1}
        nodes.append({"name": node, "fqdn": f"{node.lower()}.{DNS_DOMAIN}", "state": "Up", "os_build": 20348,
                      "memory_capacity": NODE_MEMORY_GB[node] * GB,
                      "vss_access_control": access, "vss_writers": writers})

    vms = [make_vm(rng, spec) for spec in VMS]
    by_name = {vm["name"]: vm for vm in vms}

    folders = {}
    for number, _owner in VOLUMES:
        folders[f"C:\\ClusterStorage\\Volume{number}"] = {"nodes": "all", "owner": ADMINISTRATORS,
                                                         "access": volume_acl(inherited=False)}
    granted = by_name[GUEST_CLUSTER_GRANTED]
    folders[GUEST_CLUSTER_FOLDER] = {
        "nodes": "all",
        "owner": ADMINISTRATORS,
        "access": [ace(vm_sid(granted["id"]), "FullControl", inheritance="ObjectInherit")] + volume_acl(inherited=True),
    }

    data = {
        "credentials": {"username": "hvadmin", "password": "hvsim-Passw0rd"},
        "cluster": {
            "name": CLUSTER,
            "parameters": {"ConfigStoreRootPath": ""},
            "shared_volumes": [{"name": f"Cluster Disk {number}", "path": f"C:\\ClusterStorage\\Volume{number}",
                                "owner_node": owner, "state": "Online"} for number, owner in VOLUMES],
            **CLUSTER_PLACEMENT,
        },
        "nodes": nodes,
        "vms": vms,
        "folders": folders,
        "accounts": {name: f"{DOMAIN_SID}-{rid}" for name, rid in ACCOUNTS.items()},
        "faults": {"latency_ms": 0, "fail_nth": 0, "drop_nth": 0},
    }
    plant_backup_drift(data)
    return data


# --- the drift a backup readiness audit finds in the event logs and elsewhere --------------------------------

# Configuration versions: below 8.0 a VM has no resilient change tracking (below 6.2 it would have no production
# checkpoints either: an error no module fixes, left to the unit tests so that the demo's converge leaves no error).
OLD_VERSIONS = {"PRINT01": "7.0"}
# The backup account is denied (0), not just missing, on this node.
NODE_DENYING_BACKUP_ACCOUNT = "HV02"
VM_WITHOUT_SCSI_EVENTS = "LEGACY-ERP"
GUEST_WITHOUT_ACE = "GC-SQL-N2"
VM_WITH_FULL_GUEST_DISK = "APP01"   # its in-guest shadow copy failed: an event no check explains
LOG_VMMS = "Microsoft-Windows-Hyper-V-VMMS-Admin"


def _at(days, hour, minute, second):
    """A time ``days`` before the reference day, at the given time of day (nightly backups run at 02:00)."""
    day = REFERENCE_TIME.replace(hour=0, minute=0, second=0) - timedelta(days=days)
    return iso(day.replace(hour=hour, minute=minute, second=second))


def _backup_events(by_name):
    """``{node: [events]}``: what the last nights' backup jobs left in the event logs."""
    legacy, guest, app = by_name[VM_WITHOUT_SCSI_EVENTS], by_name[GUEST_WITHOUT_ACE], by_name[VM_WITH_FULL_GUEST_DISK]
    no_scsi = ("The virtual machine '{name}' cannot be hot backed up since it has no SCSI controllers attached. Please "
               "add one or more SCSI controllers to the virtual machine before performing a backup. (Virtual machine "
               "ID {id})")
    events = {node: [] for node in NODES}
    # 10103 for the VM without a SCSI controller: three nights in the window, one long before it.
    for days, (minute, second) in ((3, (3, 11)), (2, (4, 2)), (1, (3, 47)), (18, (2, 58))):
        events[legacy["node"]].append({"log": LOG_VMMS, "id": 10103, "time": _at(days, 2, minute, second), "level": 2,
                                       "message": no_scsi.format(name=legacy["name"], id=legacy["id"].upper()),
                                       "vm_id": legacy["id"]})
    # 19100 for the guest cluster node whose account lacks (OI)F: the VM ID only in the message.
    for days, (minute, second) in ((2, (41, 9)), (1, (39, 55))):
        events[guest["node"]].append({
            "log": LOG_VMMS, "id": 19100, "time": _at(days, 2, minute, second), "level": 2,
            "message": f"'{guest['name']}' background disk merge failed to complete: General access denied error "
                       f"(0x80070005). (Virtual machine ID {guest['id'].upper()})"})
    # 8194 on the node whose VssAccessControl lacks the backup account.
    for days, (minute, second) in ((3, (0, 31)), (2, (0, 29)), (1, (0, 33))):
        events[NODE_WITHOUT_BACKUP_ACCOUNT].append({
            "log": "Application", "provider": "VSS", "id": 8194, "time": _at(days, 2, minute, second), "level": 2,
            "message": "Volume Shadow Copy Service error: Unexpected error querying for the IVssWriterCallback "
                       "interface.  hr = 0x80070005, Access is denied.\r\n. This is often caused by incorrect security "
                       "settings in either the writer or requestor process.\r\n\r\nOperation:\r\n   Gathering Writer "
                       "Data\r\n\r\nContext:\r\n   Writer Class Id: {e8132975-6f93-4464-a53e-1050253ae220}\r\n   "
                       "Writer Name: System Writer\r\n   Writer Instance ID: "
                       f"{{{guid('writer-instance', NODE_WITHOUT_BACKUP_ACCOUNT, 'System Writer')}}}"})
    # 10102: the shadow copy inside a guest failed (a full guest volume); no check of the host explains it.
    events[app["node"]].append({
        "log": LOG_VMMS, "id": 10102, "time": _at(1, 2, 12, 40), "level": 2,
        "message": f"Failed to create the volume shadow copy inside of virtual machine '{app['name']}'. (Virtual "
                   f"machine ID {app['id'].upper()})", "vm_id": app["id"]})
    return events


def plant_backup_drift(data):
    """Old configuration versions, a denied backup account and the events of the last nights' failed backups;
    the hosts' clock is the reference time, so the events stay recent whenever the demo runs."""
    by_name = {vm["name"]: vm for vm in data["vms"]}
    for name, version in OLD_VERSIONS.items():
        by_name[name]["version"] = version
    for node in data["nodes"]:
        if node["name"] == NODE_DENYING_BACKUP_ACCOUNT:
            node["vss_access_control"] = {BACKUP_ACCOUNT: 0}
    events = _backup_events(by_name)
    for node in data["nodes"]:
        node["events"] = events[node["name"]]
    data["clock"] = iso(REFERENCE_TIME)


def backup_drift_lines(data):
    """Comment lines for the drift :func:`plant_backup_drift` planted, computed from ``data``."""
    old = [f"{vm['name']} ({vm['version']})" for vm in data["vms"] if vm["version"] in ("5.0", "6.0", "7.0", "7.1")]
    denied = [n["name"] for n in data["nodes"] if n["vss_access_control"].get(BACKUP_ACCOUNT) == 0]
    names = {vm["id"]: vm["name"] for vm in data["vms"]}
    lines = [f"- configuration version below 8.0 (below 6.2: no production checkpoints): {', '.join(old) or 'none'}",
             f"- {BACKUP_ACCOUNT} denied (0) under VssAccessControl on: {', '.join(denied) or 'none'}",
             f"- backup events in the logs (the hosts' clock is {data['clock']}):"]
    for node in data["nodes"]:
        counts = {}
        for event in node.get("events") or []:
            about = names.get(event.get("vm_id")) or next((name for vm_id, name in names.items()
                                                           if vm_id.upper() in event.get("message", "")), None)
            key = f"{event['id']}" + (f" {about}" if about else "")
            counts[key] = counts.get(key, 0) + 1
        if counts:
            lines.append(f"    {node['name']}: " + ", ".join(f"{key} x{n}" for key, n in counts.items()))
    return lines


def drift_summary(data):
    """Comment lines describing the planted drift, computed from ``data``."""
    owners = {v["path"].upper(): v["owner_node"] for v in data["cluster"]["shared_volumes"]}

    def owner_of(vm):
        for path, owner in owners.items():
            if vm["path"].upper().startswith(path + "\\"):
                return owner
        return None

    def names(selected):
        return ", ".join(vm["name"] for vm in selected) or "none"

    vms = data["vms"]
    standard = [vm for vm in vms if vm["checkpoint_type"] == "Standard"]
    disabled = [vm for vm in vms if vm["checkpoint_type"] == "Disabled"]
    automatic = [vm for vm in vms if vm["automatic_checkpoints"]]
    no_scsi = [vm for vm in vms if not vm["scsi_controllers"]]
    off_owner = [vm for vm in vms if owner_of(vm) not in (None, vm["node"])]
    no_backup = [vm for vm in vms if not vm["backup_integration"]["enabled"]]
    recovery = [vm for vm in vms if any(cp["type"] == "Recovery" for cp in vm["checkpoints"])]
    lacking = [n["name"] for n in data["nodes"] if n["vss_access_control"].get(BACKUP_ACCOUNT) not in (0, 1)]
    stuck = [f"{n['name']} ('{w['name']}' [{w['state']}], {w['last_error']})" for n in data["nodes"]
             for w in n["vss_writers"] if w["state"] != 1 or w["last_error"] != "No error"]
    shared = sorted({d["path"] for vm in vms for d in vm["hard_disks"] if d["shared"]})
    gc_vms = [vm for vm in vms if any(d["shared"] for d in vm["hard_disks"])]
    gc_acl = data["folders"][GUEST_CLUSTER_FOLDER]["access"]
    granted = [vm["name"] for vm in gc_vms if any(a["sid"] == vm_sid(vm["id"]) for a in gc_acl)]
    missing = [vm["name"] for vm in gc_vms if vm["name"] not in granted]
    lines = [
        "hvsim demo cluster: generated by tools/hvsim/models/make_demo.py; edit the generator, not this file.",
        f"{CLUSTER}: {len(data['nodes'])} nodes ({', '.join(n['name'] for n in data['nodes'])}), "
        f"{len(data['cluster']['shared_volumes'])} CSVs, {len(vms)} VMs. Planted drift:",
        f"- checkpoint type Standard ({len(standard)}): {names(standard)}",
        f"- checkpoint type Disabled ({len(disabled)}): {names(disabled)}",
        f"- automatic checkpoints on ({len(automatic)}): {names(automatic)}",
        f"- no SCSI controller ({len(no_scsi)}, generation 1): "
        + ", ".join(f"{vm['name']} ({vm['state']})" for vm in no_scsi),
        f"- on a node other than their CSV's owner ({len(off_owner)}):",
        *("    " + ", ".join(f"{vm['name']} on {vm['node']} (owner {owner_of(vm)})" for vm in off_owner[i:i + 4])
          for i in range(0, len(off_owner), 4)),
        *placement_summary(data),
        f"- backup integration service disabled: {names(no_backup)}",
        f"- stale recovery checkpoint: {names(recovery)}",
        f"- {BACKUP_ACCOUNT} missing from VssAccessControl on: {', '.join(lacking) or 'none'}",
        f"- VSS writer not stable or with a last error: {'; '.join(stuck) or 'none'}",
        "- ConfigStoreRootPath is not set",
        f"- guest cluster {', '.join(vm['name'] for vm in gc_vms)} shares {', '.join(shared)};",
        f"  (OI)F for NT VIRTUAL MACHINE\\<id> on the folder: granted to {', '.join(granted) or 'none'}, "
        f"missing for {', '.join(missing) or 'none'}",
        *backup_drift_lines(data),
        f"Times are relative to {iso(REFERENCE_TIME)}.",
    ]
    return lines


def placement_summary(data):
    """Comment lines on what constrains or may undo a CSV placement of the demo."""
    cluster = data["cluster"]
    limited = [f"{vm['name']} ({', '.join(vm['possible_owners'])})" for vm in data["vms"] if vm.get("possible_owners")]
    failback = [f"{vm['name']} (preferred {', '.join(vm['preferred_owners'])})" for vm in data["vms"]
                if vm.get("auto_failback")]
    classes = {}
    for vm in data["vms"]:
        for cls in vm["anti_affinity_class_names"]:
            classes.setdefault(cls, []).append(vm["name"])
    return [
        f"  possible owners limited: {', '.join(limited) or 'none'}; anti-affinity: "
        + ("; ".join(f"{cls} ({', '.join(vms)})" for cls, vms in classes.items()) or "none"),
        f"  failback to preferred owners: {', '.join(failback) or 'none'}; CsvBalancer {cluster['csv_balancer']}, "
        f"AutoBalancerMode {cluster['auto_balancer_mode']}, AutoBalancerLevel {cluster['auto_balancer_level']}, "
        f"ClusterEnforcedAntiAffinity {cluster['cluster_enforced_anti_affinity']}",
    ]


class _Dumper(yaml.SafeDumper):
    """Block style for structure, flow style for small flat mappings (disks, writers, ACEs)."""


def _represent_dict(dumper, value):
    flat = all(not isinstance(v, (dict, list)) for v in value.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=flat and len(value) <= 7)


def _represent_list(dumper, value):
    flat = all(not isinstance(v, (dict, list)) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def render(data=None):
    data = data if data is not None else build()
    header = "".join(f"# {line}\n" for line in drift_summary(data))
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=160, allow_unicode=True)
    return header + body


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=os.path.join(here, "demo.yml"))
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from what is generated")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as fh:
                current = fh.read()
        except OSError:
            current = None
        if current != text:
            print(f"{args.output} is not what make_demo.py generates; run it to update", file=sys.stderr)
            return 1
        return 0
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
