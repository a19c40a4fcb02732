"""The backup-related events: which ``host_facts`` reads, what each means, and which of them are a
finding's evidence. Plain functions over plain data.

Which logs and events (the ``events`` subset of ``host_facts``)
---------------------------------------------------------------
The controller decides what is read: :data:`EVENT_LOGS` is sent to the host as ``event_queries``, and the
host reads each log with ONE ``Get-WinEvent -FilterHashtable @{LogName; ProviderName; Id; StartTime}``
call, at most ``events_max`` events per log (it asks for one more to tell when a log had more: the
newest ``events_max`` are kept and the log is reported ``truncated``).

- ``Microsoft-Windows-Hyper-V-VMMS-Admin``: 10102 (the shadow copy inside the VM failed: a guest volume
  with too little free space, or the guest's own VSS; seed 004, "Trouble shooting ... 'Microsoft Hyper-V
  VSS Writer' State: [5]"), 10103 (the VM "cannot be hot backed up since it has no SCSI controllers
  attached", Windows Server 2012 R2 and later: the backup hot-adds its recovery disk; John Savill, "SCSI
  Controller Requirements for Host Backup in Guest with Windows Server 2012 R2", ITPro Today, 2014, and
  seed 002), 19100 (the background merge of the recovery checkpoint "failed to complete: General access
  denied error (0x80070005)": a guest cluster's VHD Set folder without Full Control for the VM's account;
  KB 4230569, "Errors when backing up VMs that belong to a guest cluster in Windows", and seed 001).
- ``Microsoft-Windows-Hyper-V-Worker-Admin``: 18590, an error of a VM's worker process that names the VM
  and its account (``S-1-5-83-1-...``), met with access denied on a VHD Set folder (the domain brief's
  worked SID example comes from one; medium confidence on its exact meaning).
- ``Application``, provider ``VSS``: 8193 ("Volume Shadow Copy Service error: Unexpected error calling
  routine ..."), 8194 ("Unexpected error querying for the IVssWriterCallback interface. hr = 0x80070005,
  Access is denied": the backup product's account is not allowed under VssAccessControl; seed 004 and
  Microsoft's "Security Considerations for Writers",
  https://learn.microsoft.com/windows/win32/vss/security-considerations-for-writers) and 12289
  ("Unexpected error DeviceIoControl ...": a volume operation of the host's shadow copy failed).

32768, 32770 and 32775 are not event IDs: they are the error codes of Hyper-V's WMI jobs that a backup
of a guest cluster's VHD Set fails with (KB 4230569, quoted in seed 000: "Error code: '32768'. Failed to
create checkpoint on collection", "'32770'. Active-active access is not supported for the shared VHDX in
VM group", "'32775'. More than one VM claimed to be the owner of shared VHDX"). The backup product's job
log shows them. So do HRESULTs such as 0x800423F4 (VSS_E_WRITERERROR_NONRETRYABLE: a VSS writer in the
guest, SQL Server for one, failed) and 0x80070005 (access denied). A finding names them in its
``errors``; an event read is their evidence when its message carries the code.

The VM an event names
---------------------
Hyper-V's events name the VM by name and by ID ("'SQL01' cannot be hot backed up ... (Virtual machine ID
D9E0EB0A-...)"). Messages are localized and names are neither unique nor safe to parse (a name may even
look like a GUID), so the host reports the VM ID (``VMId``): the event data field named ``VmId``, else a
property of type Guid, else the last GUID of the message (Hyper-V's messages end with the ID, after the
name). Evidence is matched to a VM by that ID, never by name. The VSS events name no VM.

Evidence (:func:`evidence`)
---------------------------
An event is evidence for a finding when it is one of the finding's ``errors`` (the same event ID of the
same provider, or a code its message carries) and it concerns the finding's object: for a VM, an event
naming that VM's ID, on whichever node it was logged (the VM may have moved since); for a node, an event
of that node; for the cluster, an event of any node. ``evidence`` is null when no node concerned read its
events. A recent event that is evidence for no finding is reported by itself (:func:`unexplained`).
"""
import re
from datetime import datetime

# What host_facts reads: one query per log. ``names_vm``: the host looks for the VM ID in these events.
EVENT_LOGS = (
    {"log_name": "Microsoft-Windows-Hyper-V-VMMS-Admin", "provider_name": None, "ids": [10102, 10103, 19100],
     "names_vm": True},
    {"log_name": "Microsoft-Windows-Hyper-V-Worker-Admin", "provider_name": None, "ids": [18590], "names_vm": True},
    {"log_name": "Application", "provider_name": "VSS", "ids": [8193, 8194, 12289], "names_vm": False},
)

DEFAULT_EVENTS_DAYS = 7
MAX_EVENTS_DAYS = 365
DEFAULT_EVENTS_MAX = 200
MAX_EVENTS_MAX = 10000
# How many events a finding's evidence lists (the newest); its count covers them all.
EVIDENCE_EVENTS = 5

# An error's ``source`` as findings name it -> the providers and log whose events carry it.
SOURCES = {
    "Hyper-V-VMMS": {"providers": ("Microsoft-Windows-Hyper-V-VMMS",), "log": "Microsoft-Windows-Hyper-V-VMMS-Admin"},
    "Hyper-V-Worker": {"providers": ("Microsoft-Windows-Hyper-V-Worker",), "log": "Microsoft-Windows-Hyper-V-Worker-Admin"},
    "VSS": {"providers": ("VSS",), "log": "Application"},
}
# Error sources whose ``id`` is a code a message carries, not an event ID.
CODE_SOURCES = ("Hyper-V WMI job", "HRESULT")

# (source, event ID or code) -> what it means, the check that finds its cause beforehand (None: the cause
# is inside the guest or elsewhere, where the host cannot look) and what to do.
CATALOGUE = {
    ("Hyper-V-VMMS", 10102): {
        "title": "the shadow copy inside the VM failed",
        "meaning": "the guest could not take its own shadow copy, usually because a guest volume has less than "
                   "about 1 GB free, or because a VSS writer inside the guest is failing: the backup of this VM "
                   "fails or is not application consistent",
        "check": None,
        "fix": "free at least 1 GB on every volume of the guest and run 'vssadmin list writers' inside it"},
    ("Hyper-V-VMMS", 10103): {
        "title": "no SCSI controller for the recovery disk",
        "meaning": "the VM has no SCSI controller, so the backup cannot hot-add its recovery disk and the VM "
                   "cannot be backed up while it runs",
        "check": "scsi_controller",
        "fix": "hyperv.backup.scsi_controller (the VM must be off to add one)"},
    ("Hyper-V-VMMS", 19100): {
        "title": "the recovery checkpoint's merge was denied",
        "meaning": "the background merge of the backup's recovery checkpoint failed with access denied "
                   "(0x80070005): the folder of a shared VHD Set lacks Full Control (OI) for the VM's account, "
                   "and the recovery checkpoint chain stays behind",
        "check": "vhd_set_acl",
        "fix": "hyperv.backup.vm_folder_access (role hyperv.backup.vhds_permissions)"},
    ("Hyper-V-Worker", 18590): {
        "title": "the VM's worker process reported an error naming its account",
        "meaning": "the VM's worker process logged an error naming the VM's account (NT VIRTUAL MACHINE\\<VM ID>); "
                   "met with access denied on the folder of a guest cluster's VHD Set",
        "check": "vhd_set_acl",
        "fix": "read the event; if it names a VHD Set folder, hyperv.backup.vm_folder_access"},
    ("VSS", 8193): {
        "title": "a VSS call failed on the host",
        "meaning": "the Volume Shadow Copy Service failed calling a routine on the host during a shadow copy: "
                   "a writer or provider in a bad state fails the backup",
        "check": "vss_writer",
        "fix": "run 'vssadmin list writers' on the node; drain it and restart the failing writer's service"},
    ("VSS", 8194): {
        "title": "the backup product's requester was refused (access denied)",
        "meaning": "a writer could not call back the backup product's requester (IVssWriterCallback, "
                   "0x80070005): the account the backup product runs as is not allowed under VssAccessControl",
        "check": "vss_access_control",
        "fix": "hyperv.backup.vss_access_control with the backup product's account (policy vss_accounts names it)"},
    ("VSS", 12289): {
        "title": "a volume operation of the host's shadow copy failed",
        "meaning": "the Volume Shadow Copy Service hit an unexpected error on a volume (DeviceIoControl) during "
                   "the host's shadow copy: the backup of the VMs on that volume fails",
        "check": "vss_writer",
        "fix": "read the event for the volume; check the CSV and its storage, then 'vssadmin list writers'"},
    ("Hyper-V WMI job", 32768): {
        "title": "the checkpoint of a VM collection failed",
        "meaning": "Failed to create checkpoint on collection: the guest cluster's collection could not be "
                   "checkpointed (ConfigStoreRootPath unset, or the cluster service inside the guest not reachable)",
        "check": "config_store_root_path",
        "fix": "set ConfigStoreRootPath (hyperv.backup.cluster_config_store) and check the cluster service in the guests"},
    ("Hyper-V WMI job", 32770): {
        "title": "the VHD Set is a Cluster Shared Volume inside the guest",
        "meaning": "Active-active access is not supported for the shared VHDX in VM group: the guest cluster "
                   "uses the VHD Set as a CSV, which cannot be checkpointed",
        "check": None,
        "fix": "inside the guest cluster, use the shared disk as a clustered disk, not a Cluster Shared Volume"},
    ("Hyper-V WMI job", 32775): {
        "title": "not exactly one guest node owns the shared VHD Set",
        "meaning": "More than one VM claimed to be the owner of shared VHDX: the shared disk is offline in the "
                   "guest cluster, or more or fewer than one node owns it",
        "check": None,
        "fix": "inside the guest cluster, bring the shared disk online on exactly one node"},
    ("HRESULT", "0x800423F4"): {
        "title": "a VSS writer inside the guest failed",
        "meaning": "VSS_E_WRITERERROR_NONRETRYABLE: a VSS writer inside the guest (SQL Server, for one) is in a "
                   "failed state, so the production checkpoint of the backup fails",
        "check": None,
        "fix": "inside the guest, run 'vssadmin list writers' and restart the failed writer's service"},
}


class EventsOptionError(ValueError):
    """An ``events_days`` or ``events_max`` that is not valid; the message names it."""


def check_events_options(days, maximum):
    """``(events_days, events_max)`` checked: whole numbers in range; raises :class:`EventsOptionError`."""
    for name, value, low, high, unit in (("events_days", days, 1, MAX_EVENTS_DAYS, "days"),
                                         ("events_max", maximum, 1, MAX_EVENTS_MAX, "events per log")):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise EventsOptionError(f"host_facts: {name} {value!r} is out of range; give {low} to {high} {unit}")
    return days, maximum


def event_queries():
    """What the host is asked to read (``host_facts``' ``event_queries``): a fresh copy of :data:`EVENT_LOGS`."""
    return [dict(query, ids=list(query["ids"])) for query in EVENT_LOGS]


# --- reading the facts ------------------------------------------------------------------------------------

def parse_time(text):
    """``2026-11-20T02:00:11Z`` -> an aware datetime, or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def node_events(view):
    """``{node name: [events]}`` of the nodes of a view that read their events (the ``events`` subset), each
    event with ``node`` added and ``time`` parsed; a node that did not read them is absent."""
    found = {}
    for name, facts in (view.get("nodes") or {}).items():
        if not isinstance(facts.get("event_logs"), dict):
            continue
        events = []
        for event in facts.get("events") or []:
            entry = dict(event)
            entry["node"] = name
            entry["_time"] = parse_time(event.get("TimeCreated"))
            vm_id = event.get("VMId")
            entry["VMId"] = str(vm_id).lower() if vm_id else None
            events.append(entry)
        found[name] = events
    return found


def hosts_clock(view):
    """The newest ``event_logs.until`` (the time a host read its events, by its own clock), or None."""
    times = [parse_time((facts.get("event_logs") or {}).get("until")) for facts in (view.get("nodes") or {}).values()]
    times = [moment for moment in times if moment]
    return max(times) if times else None


def source_of(event):
    """The error source (``Hyper-V-VMMS``, ``Hyper-V-Worker``, ``VSS``) of an event, or None."""
    provider = str(event.get("ProviderName") or "").lower()
    log = str(event.get("LogName") or "").lower()
    for source, where in SOURCES.items():
        if provider in (p.lower() for p in where["providers"]) or (not provider and log == where["log"].lower()):
            return source
    return None


def _carries(message, code):
    """Whether a message carries an error code: an HRESULT as ``0x...`` anywhere; a WMI job code only quoted
    or in parentheses (``Error code: '32768'``), so that ``32768 MB`` is not taken for one."""
    text = str(message or "")
    if isinstance(code, int):
        return re.search(rf"['\"\u2018\u2019(]{code}['\"\u2018\u2019)]", text) is not None
    return str(code).lower() in text.lower()


def matches(event, errors):
    """Whether ``event`` is one of ``errors`` (``[{source, id}]``): the same event ID of the same provider,
    or a code of :data:`CODE_SOURCES` that its message carries."""
    source = source_of(event)
    for error in errors:
        if error.get("source") in CODE_SOURCES:
            if _carries(event.get("Message"), error.get("id")):
                return True
        elif error.get("source") == source and event.get("Id") == error.get("id"):
            return True
    return False


def describe(event):
    """The catalogue entry of an event (by its source and ID, else by a code its message carries), or a
    generic one."""
    entry = CATALOGUE.get((source_of(event), event.get("Id")))
    if entry:
        return entry
    for (source, code), candidate in CATALOGUE.items():
        if source in CODE_SOURCES and _carries(event.get("Message"), code):
            return candidate
    return {"title": f"event {event.get('Id')}", "meaning": "a backup-related event this collection has no explanation for",
            "check": None, "fix": "read the event"}


def label(event):
    """``Hyper-V-VMMS 10103`` for people."""
    return f"{source_of(event) or event.get('ProviderName') or event.get('LogName')} {event.get('Id')}"


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def report_event(event):
    """An event as a finding's evidence lists it (the report's shape)."""
    return {"log": event.get("LogName"), "id": event.get("Id"), "time": event.get("TimeCreated"),
            "node": event.get("node"), "message": event.get("Message"), "vm_id": event.get("VMId")}


def summarize_events(events):
    """``{seen, count, first, last, events}`` of the events given (any order): newest first, at most
    :data:`EVIDENCE_EVENTS` listed."""
    ordered = sorted(events, key=lambda e: (e["_time"] is not None, e["_time"] or 0, e.get("node") or ""), reverse=True)
    times = [e["_time"] for e in ordered if e["_time"]]
    return {"seen": bool(ordered), "count": len(ordered),
            "first": _iso(min(times)) if times else None, "last": _iso(max(times)) if times else None,
            "events": [report_event(e) for e in ordered[:EVIDENCE_EVENTS]]}


def in_window(events_by_node, since):
    """The same mapping with only the events logged at ``since`` or later (all of them when ``since`` is None)."""
    if since is None:
        return events_by_node
    return {node: [e for e in events if e["_time"] is None or e["_time"] >= since]
            for node, events in events_by_node.items()}


def index(events_by_node):
    """The events of :func:`node_events` indexed for :func:`concerned`: by node (upper case), by VM ID, all."""
    by_vm = {}
    for events in events_by_node.values():
        for event in events:
            if event["VMId"]:
                by_vm.setdefault(event["VMId"], []).append(event)
    return {"nodes": {name.upper(): events for name, events in events_by_node.items()}, "by_vm": by_vm,
            "all": [event for events in events_by_node.values() for event in events]}


def concerned(finding, events, vm_ids=None):
    """The events that concern a finding's object, from :func:`index`, and whether a node concerned read its
    events: ``(events, read)``. ``vm_ids`` narrows the events of an object that is not a VM (a VHD Set
    folder) to those naming one of these VMs."""
    obj = finding["object"]
    kind = obj["kind"]
    if vm_ids is None and kind == "vm" and obj.get("id"):
        vm_ids = {str(obj["id"]).lower()}
    if vm_ids is not None:
        pool = [event for vm_id in sorted({str(v).lower() for v in vm_ids}) for event in events["by_vm"].get(vm_id, [])]
        return pool, bool(events["nodes"])
    if kind in ("node", "writer", "account"):
        node = str(finding.get("node") or obj.get("node") or obj["name"]).upper()
        return events["nodes"].get(node, []), node in events["nodes"]
    return events["all"], bool(events["nodes"])


def evidence(finding, events, vm_ids=None):
    """The finding's evidence (see the module docstring) from the :func:`index` of the events read, or None
    when its events were not read or it leads to no error an event shows; also the events used, so that what
    explains nothing can be told apart."""
    pool, read = concerned(finding, events, vm_ids)
    if not read or not finding.get("errors"):
        return None, []
    used = [e for e in pool if matches(e, finding["errors"])]
    return summarize_events(used), used
