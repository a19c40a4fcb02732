"""The simulated world as the hosts see it: plain functions over the model dict (docs/hvsim.md).

Operations use these to answer as Windows would: names are case-insensitive, a node sees only the VMs
registered on it, account names resolve from the point of view of one node, paths are Windows paths.

Windows behaviour modelled here, with its source:

- ``NT VIRTUAL MACHINE\\<VM GUID>`` is the virtual account of one VM. Its SID is ``S-1-5-83-1-a-b-c-d``,
  the GUID's bytes in ``Guid.ToByteArray()`` order read as four little-endian 32-bit integers (Hyper-V-Worker
  event 18590 shows D9E0EB0A-5B37-508E-9173-67E9ADE83ACF as S-1-5-83-1-3655396106-1351506743-3915871121-
  3476744365). Microsoft KB 4230569 ("Errors when backing up VMs that belong to a guest cluster") grants it
  on the VHD Set folder. The account exists only on the host where the VM is registered: elsewhere
  ``SecurityIdentifier.Translate`` leaves the SID and ``NTAccount.Translate`` throws
  ``IdentityNotMappedException`` ("Some or all identity references could not be translated."; .NET API
  docs, System.Security.Principal.IdentityReference.Translate).
- Well-known SIDs ("Well-known SIDs", https://learn.microsoft.com/windows/win32/secauthz/well-known-sids,
  and https://learn.microsoft.com/windows-server/identity/ad-ds/manage/understand-security-identifiers)
  resolve on every host. ``S-1-5-83-0`` is ``NT VIRTUAL MACHINE\\Virtual Machines``.
- Cluster Shared Volumes are mounted under ``C:\\ClusterStorage\\`` on every node of the cluster
  ("Use Cluster Shared Volumes in a failover cluster", https://learn.microsoft.com/windows-server/
  failover-clustering/failover-cluster-csvs); a volume that is not Online shows no content.
- ``vssadmin list writers`` prints a fixed header, then one block per writer with the state as
  ``[n] label`` (VSS_WRITER_STATE, https://learn.microsoft.com/windows/win32/api/vss/ne-vss-vss_writer_state);
  vssadmin's labels are "Stable", "Waiting for freeze", "Waiting for thaw", "Waiting for post snapshot",
  "Waiting for completion" and "Failed" for every FAILED_AT_* state.
- VM states (``Microsoft.HyperV.PowerShell.VMState``: Running, Off, Saved, Paused, Starting, Stopping, ...)
  have ``...Critical`` forms (``OffCritical``, ``RunningCritical``, ...) for a VM whose storage is not
  accessible ("Hyper-V virtual machine is in Critical state", Microsoft Q&A; Get-VM). Microsoft does not
  document which cmdlets still answer for such a VM; hvsim takes the strictest case: Get-VM lists it, and
  every cmdlet that reads its configuration (Get-VMScsiController, Get-VMHardDiskDrive,
  Get-VMIntegrationService, Get-VMSnapshot, Set-VM, Add-VMScsiController) fails for it.
- Which parameters ``Set-VM`` has is a property of the host, asked with ``Get-Command``. Microsoft's Set-VM
  pages list ``-AutomaticCheckpointsEnabled`` for every docset, even Windows Server 2016's
  (https://learn.microsoft.com/powershell/module/hyper-v/set-vm?view=windowsserver2016-ps), while the feature
  came with build 16299 (version 1709). hvsim derives the parameters from ``os_build`` (16299 or later has
  it) unless the node's ``set_vm_parameters`` lists them.
- A graceful ``Stop-VM`` asks the guest to shut down (``Msvm_ShutdownComponent.InitiateShutdown``); once
  the guest has accepted, it goes on shutting down whether or not the caller waits. hvsim keeps such a VM
  Running (the strictest case: nothing shows that it is shutting down) with ``guest.shutdown_requested``,
  and it is Off from the next module run on (time passes between module runs; see :func:`settle`).
- A WinRM session authenticated with Kerberos or NTLM cannot authenticate to a second machine (the double
  hop, "Making the second hop in PowerShell Remoting",
  https://learn.microsoft.com/powershell/scripting/security/remoting/ps-remoting-second-hop). hvsim's
  sessions are such sessions: a UNC path served by another machine is access denied, and a share no
  folder of the model is under is "The network path was not found."
"""
import re
import struct
import uuid

VM_ACCOUNT_DOMAIN = "NT VIRTUAL MACHINE"
VM_SID_PREFIX = "S-1-5-83-1-"
VIRTUAL_MACHINES_GROUP = "S-1-5-83-0"
CSV_ROOT = "C:\\ClusterStorage"

# SID -> the name Translate gives on every Windows host.
WELL_KNOWN_SIDS = {
    "S-1-0-0": "NULL SID",
    "S-1-1-0": "Everyone",
    "S-1-2-0": "LOCAL",
    "S-1-3-0": "CREATOR OWNER",
    "S-1-3-1": "CREATOR GROUP",
    "S-1-3-4": "OWNER RIGHTS",
    "S-1-5-2": "NT AUTHORITY\\NETWORK",
    "S-1-5-4": "NT AUTHORITY\\INTERACTIVE",
    "S-1-5-6": "NT AUTHORITY\\SERVICE",
    "S-1-5-7": "NT AUTHORITY\\ANONYMOUS LOGON",
    "S-1-5-9": "NT AUTHORITY\\ENTERPRISE DOMAIN CONTROLLERS",
    "S-1-5-10": "NT AUTHORITY\\SELF",
    "S-1-5-11": "NT AUTHORITY\\Authenticated Users",
    "S-1-5-18": "NT AUTHORITY\\SYSTEM",
    "S-1-5-19": "NT AUTHORITY\\LOCAL SERVICE",
    "S-1-5-20": "NT AUTHORITY\\NETWORK SERVICE",
    "S-1-5-32-544": "BUILTIN\\Administrators",
    "S-1-5-32-545": "BUILTIN\\Users",
    "S-1-5-32-546": "BUILTIN\\Guests",
    "S-1-5-32-547": "BUILTIN\\Power Users",
    "S-1-5-32-551": "BUILTIN\\Backup Operators",
    "S-1-5-32-555": "BUILTIN\\Remote Desktop Users",
    "S-1-5-32-578": "BUILTIN\\Hyper-V Administrators",
    "S-1-5-80-0": "NT SERVICE\\ALL SERVICES",
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464": "NT SERVICE\\TrustedInstaller",
    VIRTUAL_MACHINES_GROUP: "NT VIRTUAL MACHINE\\Virtual Machines",
}

# VSS_WRITER_STATE -> the English label vssadmin prints after "[n]".
VSS_STATE_LABELS = {
    0: "Unknown",
    1: "Stable",
    2: "Waiting for freeze",
    3: "Waiting for thaw",
    4: "Waiting for post snapshot",
    5: "Waiting for completion",
    **{n: "Failed" for n in range(6, 16)},
}

VSSADMIN_BANNER = (
    "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\n"
    "(C) Copyright 2001-2013 Microsoft Corp.\n"
    "\n"
)
VSSADMIN_HEADER = VSSADMIN_BANNER + (
    "Waiting for responses.\n"
    "These may be delayed if a shadow copy is being prepared.\n"
    "\n"
)

_SID_RE = re.compile(r"^S-1-\d+(-\d+)*$", re.IGNORECASE)
_DRIVE_ABS_RE = re.compile(r"^[A-Za-z]:[\\/]")
_UNC_RE = re.compile(r"^[\\/]{2}[^\\/?.][^\\/]*[\\/][^\\/]+")


class WorldError(LookupError):
    """Something the model does not hold (an unknown node, ...); the message names the value."""


class IdentityNotMapped(WorldError):
    """``System.Security.Principal.IdentityNotMappedException``: a name that does not resolve on this node."""

    def __init__(self, name, node):
        super().__init__(f"Some or all identity references could not be translated: '{name}' is not an account "
                         f"known on {str(node).upper()}")
        self.name = name
        self.node = node


# -- SIDs of VMs ---------------------------------------------------------------------------------------------
def vm_sid(guid):
    """``S-1-5-83-1-a-b-c-d`` for the VM with this GUID (any case, braces allowed).

    >>> vm_sid("D9E0EB0A-5B37-508E-9173-67E9ADE83ACF")
    'S-1-5-83-1-3655396106-1351506743-3915871121-3476744365'
    """
    try:
        parsed = uuid.UUID(str(guid).strip())
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"'{guid}' is not a VM ID (a GUID)") from None
    return VM_SID_PREFIX + "-".join(str(part) for part in struct.unpack("<4I", parsed.bytes_le))


def vm_id_of_sid(sid):
    """The VM GUID (lower case) whose virtual account has this SID, or None when it is not such a SID."""
    text = str(sid).strip().upper()
    if not text.startswith(VM_SID_PREFIX):
        return None
    parts = text[len(VM_SID_PREFIX):].split("-")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    values = [int(p) for p in parts]
    if any(v > 0xFFFFFFFF for v in values):
        return None
    return str(uuid.UUID(bytes_le=struct.pack("<4I", *values)))


def is_sid(text):
    """True for the string form of a SID (``S-1-5-32-544``)."""
    return isinstance(text, str) and bool(_SID_RE.match(text.strip()))


# -- nodes and VMs -------------------------------------------------------------------------------------------
def node_names(data):
    return [n["name"] for n in data.get("nodes") or []]


def find_node(data, name):
    """The node dict named ``name`` (case-insensitive); :class:`WorldError` naming it when unknown."""
    key = str(name).lower()
    for node in data.get("nodes") or []:
        if node["name"].lower() == key:
            return node
    raise WorldError(f"unknown node '{name}' (nodes: {', '.join(node_names(data)) or 'none'})")


def vm_state(vm):
    """The VM's state as a string; an unquoted ``Off`` in a YAML model loads as False and means Off."""
    state = vm.get("state", "Off")
    if state is False:
        return "Off"
    if state is True:
        return "On"
    return str(state)


def vms_on_node(data, node):
    """The VMs registered on ``node`` (what ``Get-VM`` lists there), in model order."""
    key = str(node).lower()
    return [vm for vm in data.get("vms") or [] if str(vm.get("node", "")).lower() == key]


def parse_guid(text):
    """``[Guid]::TryParse``: braces and case do not matter; the lower-case GUID, or None."""
    try:
        return str(uuid.UUID(str(text).strip()))
    except (ValueError, AttributeError, TypeError):
        return None


def find_vm(data, vm_id=None, name=None, node=None):
    """The VM with this ID (any GUID form) or name (case-insensitive), optionally only on ``node``; or None."""
    if vm_id is None and name is None:
        raise ValueError("find_vm needs vm_id or name")
    wanted_id = parse_guid(vm_id) if vm_id is not None else None
    if vm_id is not None and wanted_id is None:
        return None
    wanted_name = str(name).lower() if name is not None else None
    node_key = str(node).lower() if node is not None else None
    for vm in data.get("vms") or []:
        if wanted_id is not None and str(vm.get("id", "")).lower() != wanted_id:
            continue
        if wanted_name is not None and str(vm.get("name", "")).lower() != wanted_name:
            continue
        if node_key is not None and str(vm.get("node", "")).lower() != node_key:
            continue
        return vm
    return None


def get_vm(data, node, vm_id_text):
    """``Get-VM -Id`` on ``node``: ``(vm, None)``, or ``(None, error)`` worded as the modules report it.

    Get-VM finds only the VMs registered on the host it runs on, so a VM of another node is not found.
    """
    vm_id = parse_guid(vm_id_text)
    if vm_id is None:
        return None, f"'{vm_id_text}' is not a VM ID (a GUID)"
    vm = find_vm(data, vm_id=vm_id, node=node)
    if vm is None:
        return None, f'Hyper-V was unable to find a virtual machine with ID "{vm_id}".'
    return vm, None


def vm_not_found(vm_id):
    """Get-VM's error for an ID that is not registered on the host."""
    return f'Hyper-V was unable to find a virtual machine with ID "{vm_id}".'


def is_critical(state):
    """True for the ``...Critical`` VM states (the VM's storage is not accessible)."""
    return str(state).lower().endswith("critical") and str(state).lower() != "critical"


def critical_error(vm):
    """hvsim's message for a cmdlet that reads the configuration of a VM in a critical state."""
    return (f"The virtual machine '{vm['name']}' is in a critical state ({vm_state(vm)}): its configuration "
            "cannot be read, the storage that holds it is not accessible.")


def matches_vm(vm, name_or_id):
    """True when ``name_or_id`` names this VM: its ID (any GUID form) or its name (case-insensitive)."""
    wanted = str(name_or_id)
    guid = parse_guid(wanted)
    if guid is not None:
        return str(vm.get("id", "")).lower() == guid
    return str(vm.get("name", "")).lower() == wanted.lower()


def settle(data):
    """Time passing between module runs: a VM whose guest accepted a shut down request is now Off.

    Returns True when the model changed."""
    changed = False
    for vm in data.get("vms") or []:
        guest = vm.get("guest") or {}
        if guest.get("shutdown_requested"):
            guest.pop("shutdown_requested")
            vm["state"] = "Off"
            changed = True
    return changed


# Set-VM's parameters on Windows Server 2016 (build 14393), from Microsoft's Set-VM page for that docset,
# without -AutomaticCheckpointsEnabled (see the module docstring).
SET_VM_PARAMETERS_14393 = (
    "AllowUnverifiedPaths", "AutomaticCriticalErrorAction", "AutomaticCriticalErrorActionTimeout",
    "AutomaticStartAction", "AutomaticStartDelay", "AutomaticStopAction", "CheckpointType", "CimSession",
    "ComputerName", "Confirm", "Credential", "DynamicMemory", "GuestControlledCacheTypes",
    "HighMemoryMappedIoSpace", "LockOnDisconnect", "LowMemoryMappedIoSpace", "MemoryMaximumBytes",
    "MemoryMinimumBytes", "MemoryStartupBytes", "Name", "NewVMName", "Notes", "Passthru", "ProcessorCount",
    "SmartPagingFilePath", "SnapshotFileLocation", "StaticMemory", "VM", "WhatIf",
)
AUTOMATIC_CHECKPOINTS_MIN_BUILD = 16299


def set_vm_parameters(node):
    """The parameter names ``Get-Command -Name Set-VM -Module Hyper-V`` shows on ``node`` (a model node)."""
    if node.get("set_vm_parameters") is not None:
        return [str(p) for p in node["set_vm_parameters"]]
    params = list(SET_VM_PARAMETERS_14393)
    if int(node.get("os_build", 20348)) >= AUTOMATIC_CHECKPOINTS_MIN_BUILD:
        params.append("AutomaticCheckpointsEnabled")
    return params


def has_set_vm_parameter(node, name):
    """``(Get-Command ...).Parameters.ContainsKey(name)``: parameter names are case-insensitive."""
    return name.lower() in {p.lower() for p in set_vm_parameters(node)}


def cluster_service(data, node):
    """The state of the cluster service (ClusSvc) on ``node``: ``Running``, ``Stopped``, or None when the
    node is not in a failover cluster (the service does not exist). Default: Running on a clustered model."""
    if "cluster_service" in node:
        state = node["cluster_service"]
        return None if state is None else str(state)
    return "Running" if data.get("cluster") else None


# -- accounts ------------------------------------------------------------------------------------------------
class Resolver:
    """Account name <-> SID translation as seen from one node, with indexes built once.

    ``accounts`` of the model and the well-known SIDs resolve everywhere; ``NT VIRTUAL MACHINE\\<GUID>``
    only on the node where that VM is registered. Names and SIDs compare case-insensitively.
    """

    def __init__(self, data, node):
        self.node = find_node(data, node)["name"]
        self._sid_to_name = {}
        self._name_to_sid = {}
        self._isolated = {}
        for sid, name in WELL_KNOWN_SIDS.items():
            self._add(name, sid)
        for name, sid in (data.get("accounts") or {}).items():
            self._add(str(name), str(sid))
        self._local_vm_ids = {str(vm["id"]).lower() for vm in vms_on_node(data, self.node)}

    def _add(self, name, sid):
        self._sid_to_name.setdefault(sid.upper(), name)
        self._name_to_sid[name.lower()] = sid.upper()
        isolated = name.rpartition("\\")[2].lower()
        self._isolated.setdefault(isolated, set()).add(sid.upper())

    def sid_to_name(self, sid):
        """``DOMAIN\\name`` for the SID, or None when it does not translate on this node."""
        key = str(sid).strip().upper()
        name = self._sid_to_name.get(key)
        if name is not None:
            return name
        vm_id = vm_id_of_sid(key)
        if vm_id is not None and vm_id in self._local_vm_ids:
            return f"{VM_ACCOUNT_DOMAIN}\\{vm_id.upper()}"
        return None

    def translate(self, sid):
        """``IdentityReference`` as ``Get-Acl`` shows it: the name, or the SID string when it does not resolve."""
        name = self.sid_to_name(sid)
        return name if name is not None else str(sid).strip().upper()

    def name_to_sid(self, name):
        """The SID of ``DOMAIN\\name`` (or an unambiguous isolated name); :class:`IdentityNotMapped` otherwise."""
        text = str(name).strip()
        key = text.lower()
        sid = self._name_to_sid.get(key)
        if sid is not None:
            return sid
        domain, sep, account = text.rpartition("\\")
        if sep and domain.upper() == VM_ACCOUNT_DOMAIN:
            vm_id = parse_guid(account) if len(account) == 36 else None
            if vm_id is not None and vm_id in self._local_vm_ids:
                return vm_sid(vm_id)
            raise IdentityNotMapped(text, self.node)
        if not sep:
            matches = self._isolated.get(key, set())
            if len(matches) == 1:
                return next(iter(matches))
        raise IdentityNotMapped(text, self.node)


def sid_to_name(data, node, sid):
    """The account name of ``sid`` as seen from ``node``, or None when it does not translate there."""
    return Resolver(data, node).sid_to_name(sid)


def translate_sid(data, node, sid):
    """``IdentityReference`` of an ACE on ``node``: the account name, or the SID string when unresolved."""
    return Resolver(data, node).translate(sid)


def name_to_sid(data, node, name):
    """The SID of an account name as ``NTAccount.Translate`` gives it on ``node``; raises IdentityNotMapped."""
    return Resolver(data, node).name_to_sid(name)


# -- paths ---------------------------------------------------------------------------------------------------
def is_absolute_windows_path(path):
    """True for ``C:\\...`` (drive letter, colon, separator) and UNC ``\\\\server\\share...``.

    ``C:folder`` (drive relative), ``\\folder`` (root relative) and ``folder`` are not absolute.
    """
    if not isinstance(path, str):
        return False
    return bool(_DRIVE_ABS_RE.match(path) or _UNC_RE.match(path))


def normalize_path(path):
    """A Windows path in canonical display form: backslashes, no doubled separators, no trailing one.

    ``c:/ClusterStorage//Volume1/`` -> ``c:\\ClusterStorage\\Volume1``; ``C:\\`` stays ``C:\\``; a UNC path
    keeps its leading two backslashes. Case is kept; compare with :func:`path_key`.
    """
    text = str(path).strip().replace("/", "\\")
    unc = text.startswith("\\\\")
    body = text[2:] if unc else text
    while "\\\\" in body:
        body = body.replace("\\\\", "\\")
    body = body.rstrip("\\")
    if not unc and len(body) == 2 and body[1] == ":":
        body += "\\"
    return ("\\\\" + body) if unc else body


def path_key(path):
    """The case-insensitive comparison key of a Windows path."""
    return normalize_path(path).upper()


def paths_equal(a, b):
    return path_key(a) == path_key(b)


def is_under(path, folder):
    """True when ``path`` is ``folder`` or inside it (``Volume10`` is not inside ``Volume1``)."""
    p, f = path_key(path), path_key(folder)
    return p == f or p.startswith(f if f.endswith("\\") else f + "\\")


def shared_volume_of(data, path):
    """The cluster shared volume (model dict) holding ``path``, or None."""
    cluster = data.get("cluster") or {}
    best = None
    for volume in cluster.get("shared_volumes") or []:
        if is_under(path, volume["path"]):
            if best is None or len(volume["path"]) > len(best["path"]):
                best = volume
    return best


def is_csv_path(data, path):
    """True for a path under ``C:\\ClusterStorage`` on a clustered model."""
    return bool(data.get("cluster")) and is_under(path, CSV_ROOT) and not paths_equal(path, CSV_ROOT)


def find_folder(data, node, path):
    """``(path as the model spells it, folder dict)`` when ``path`` exists as seen from ``node``; else None.

    A folder under ``C:\\ClusterStorage`` is seen from every cluster node while its volume is Online (a
    volume the model does not list, or one that is offline, shows nothing). Any other folder is seen from
    the nodes its ``nodes`` lists (``all``, the default, or a list of node names).
    """
    node_name = find_node(data, node)["name"]
    key = path_key(path)
    for folder_path, spec in (data.get("folders") or {}).items():
        if path_key(folder_path) != key:
            continue
        spec = spec or {}
        if is_csv_path(data, folder_path):
            volume = shared_volume_of(data, folder_path)
            if volume is None or str(volume.get("state", "Online")).lower() != "online":
                return None
            return folder_path, spec
        nodes = spec.get("nodes", "all")
        if nodes == "all" or (isinstance(nodes, str) and nodes.lower() == "all"):
            return folder_path, spec
        if isinstance(nodes, str):
            nodes = [nodes]
        if node_name.lower() in {str(n).lower() for n in nodes}:
            return folder_path, spec
        return None
    return None


def unc_root(path):
    """``\\\\server\\share`` of a UNC path (as given), or None for a local path."""
    text = normalize_path(path)
    if not text.startswith("\\\\"):
        return None
    parts = text[2:].split("\\")
    if len(parts) < 2:
        return None
    return "\\\\" + parts[0] + "\\" + parts[1]


def served_by(data, node, path):
    """For a UNC path: True when ``node`` itself serves it (``\\\\HV01\\...`` or its FQDN), so no second hop."""
    node_spec = find_node(data, node)
    server = unc_root(path)[2:].split("\\")[0].lower()
    names = {node_spec["name"].lower(), str(node_spec.get("fqdn") or "").lower()}
    return server in names


def read_folder(data, node, path):
    """What reading ``path`` (Get-Item, Get-Acl) on ``node`` meets: ``(folder spec, None)`` or
    ``(None, (kind, message))`` with kind ``missing``, ``denied`` or ``unreachable`` (a UNC share that cannot
    be reached), worded as .NET and Windows word them."""
    root = unc_root(path)
    if root is not None and not served_by(data, node, path):
        share_known = any(unc_root(p) is not None and path_key(unc_root(p)) == path_key(root)
                          for p in data.get("folders") or {})
        if not share_known:
            return None, ("unreachable", "The network path was not found.")
        return None, ("denied", f"Access to the path '{path}' is denied.")
    found = find_folder(data, node, path)
    if found is None and root is not None:
        # \\HV01\share and \\hv01.lab.example\share are the same share of this node.
        node_spec = find_node(data, node)
        rest = normalize_path(path)[len(normalize_path(root)):]
        share = root[2:].split("\\")[1]
        for server in (node_spec["name"], node_spec.get("fqdn")):
            if server and found is None:
                found = find_folder(data, node, f"\\\\{server}\\{share}{rest}")
    if found is None:
        return None, ("missing", f"Cannot find path '{path}' because it does not exist.")
    spec = found[1]
    if spec.get("denied"):
        return None, ("denied", f"Access to the path '{path}' is denied.")
    return spec, None


def folder_visible(data, node, path):
    return find_folder(data, node, path) is not None


# -- vssadmin ------------------------------------------------------------------------------------------------
def vss_state_label(state):
    return VSS_STATE_LABELS.get(int(state), "Unknown")


def render_vssadmin(writers):
    """The text ``vssadmin list writers`` prints for these writers (model dicts: name, id, instance_id,
    state, last_error), CRLF-free, ending with the blank line after the last block."""
    lines = [VSSADMIN_HEADER]
    for writer in writers or []:
        state = int(writer.get("state", 1))
        lines.append(
            f"Writer name: '{writer['name']}'\n"
            f"   Writer Id: {_braced(writer['id'])}\n"
            f"   Writer Instance Id: {_braced(writer['instance_id'])}\n"
            f"   State: [{state}] {vss_state_label(state)}\n"
            f"   Last error: {writer.get('last_error') or 'No error'}\n"
            "\n"
        )
    return "".join(lines)


def _braced(guid):
    text = str(guid).strip()
    if not text.startswith("{"):
        text = "{" + text + "}"
    return text.lower()


# -- placement: memory, disk sizes, owners, the cluster's balancing settings ---------------------------------
# What host_facts reads for CSV placement and what the csv_placement operation's moves obey. Defaults are
# those of a Windows Server 2016+ cluster as Microsoft documents them: AutoBalancerMode 2 and
# AutoBalancerLevel 1 (https://learn.microsoft.com/previous-versions/windows/desktop/mscs/clusters-autobalancermode,
# .../clusters-autobalancerlevel), ClusterEnforcedAntiAffinity 0 (.../clusters-clusterenforcedantiaffinity),
# CsvBalancer 1 (on by default, turned off where Storage Spaces Direct is enabled: microsoft/diskspd#160).
GIB = 2 ** 30
DEFAULT_MEMORY_CAPACITY = 256 * GIB          # a node's physical memory when the model does not say
DEFAULT_DISK_FILE_SIZE = 40 * GIB            # a virtual disk file's size when the model does not say
DEFAULT_LIVE_MIGRATION_RATE = GIB            # bytes of VM memory copied per second (about a 10 GbE network)
CLUSTER_SETTING_DEFAULTS = {"csv_balancer": 1, "auto_balancer_mode": 2, "auto_balancer_level": 1,
                            "cluster_enforced_anti_affinity": 0}
# Get-VM's MemoryAssigned is the host memory the VM holds: none while it is Off or Saved.
_HOLDS_MEMORY = ("running", "paused", "starting", "stopping", "saving", "pausing", "resuming",
                 "runningcritical", "pausedcritical")


def cluster_setting(data, key):
    """A balancing setting of the cluster (``cluster.<key>``), with its default."""
    cluster = data.get("cluster") or {}
    value = cluster.get(key)
    return CLUSTER_SETTING_DEFAULTS[key] if value is None else int(value)


def memory_capacity(node):
    """``(Get-VMHost).MemoryCapacity`` of a model node, in bytes."""
    value = node.get("memory_capacity")
    return DEFAULT_MEMORY_CAPACITY if value is None else int(value)


def memory_assigned(vm):
    """``Get-VM``'s MemoryAssigned: ``memory_assigned`` of the model, else MemoryStartup while the VM holds
    memory (Running, Paused, ...) and 0 while it is Off or Saved."""
    if vm.get("memory_assigned") is not None:
        return int(vm["memory_assigned"])
    if vm_state(vm).lower() in _HOLDS_MEMORY:
        return int(vm.get("memory_startup", 1073741824))
    return 0


def disk_file_size(disk):
    """``Get-VHD``'s FileSize of a model disk, in bytes."""
    value = disk.get("file_size")
    return DEFAULT_DISK_FILE_SIZE if value is None else int(value)


def possible_owners(data, vm):
    """The nodes that may own the VM's resource (``Get-ClusterOwnerNode -Resource``): the model's
    ``possible_owners``, else every node of the cluster, as the cluster lists them (upper case)."""
    owners = vm.get("possible_owners")
    if not owners:
        return [n["name"].upper() for n in data.get("nodes") or []]
    return [str(o).upper() for o in owners]


def preferred_owners(vm):
    """The group's preferred owners in order (``Get-ClusterOwnerNode -Group``), upper case; [] when unset."""
    return [str(o).upper() for o in vm.get("preferred_owners") or []]


def role_state(vm):
    """Get-ClusterGroup's State for a VM role: Online while the VM runs (Running or Paused), Offline when it
    is Off or Saved, Pending while it starts, stops or saves; Unknown in a critical state."""
    state = vm_state(vm).lower()
    if state in ("running", "paused"):
        return "Online"
    if state in ("off", "saved"):
        return "Offline"
    if state in ("starting", "stopping", "saving", "pausing", "resuming"):
        return "Pending"
    return "Unknown"
