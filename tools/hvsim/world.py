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


def directory_name(path):
    """``[System.IO.Path]::GetDirectoryName``: the folder that holds ``path`` (``C:\\a\\b.vhds`` -> ``C:\\a``,
    ``C:\\b.vhds`` -> ``C:\\``, ``\\\\srv\\share\\b.vhds`` -> ``\\\\srv\\share``), separators as
    backslashes; None for a root (https://learn.microsoft.com/dotnet/api/system.io.path.getdirectoryname)."""
    text = normalize_path(path)
    head, sep, _ = text.rpartition("\\")
    if not sep or text == head + sep:
        return None
    if len(head) == 2 and head[1] == ":":
        return head + "\\"
    if text.startswith("\\\\") and head.count("\\") < 3:
        return None  # \\server\share is a root
    return head


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


# -- ACLs ----------------------------------------------------------------------------------------------------
# System.Security.AccessControl.FileSystemRights
# (https://learn.microsoft.com/dotnet/api/system.security.accesscontrol.filesystemrights): its names and values.
FILE_SYSTEM_RIGHTS = {
    "ReadData": 0x1, "ListDirectory": 0x1, "WriteData": 0x2, "CreateFiles": 0x2, "AppendData": 0x4,
    "CreateDirectories": 0x4, "ReadExtendedAttributes": 0x8, "WriteExtendedAttributes": 0x10,
    "ExecuteFile": 0x20, "Traverse": 0x20, "DeleteSubdirectoriesAndFiles": 0x40, "ReadAttributes": 0x80,
    "WriteAttributes": 0x100, "Write": 0x116, "Delete": 0x10000, "ReadPermissions": 0x20000,
    "Read": 0x20089, "ReadAndExecute": 0x200A9, "Modify": 0x301BF, "ChangePermissions": 0x40000,
    "TakeOwnership": 0x80000, "Synchronize": 0x100000, "FullControl": 0x1F01FF,
}
FULL_CONTROL = FILE_SYSTEM_RIGHTS["FullControl"]
# InheritanceFlags and PropagationFlags (System.Security.AccessControl).
INHERITANCE_FLAGS = {"ContainerInherit": 1, "ObjectInherit": 2}
PROPAGATION_FLAGS = {"NoPropagateInherit": 1, "InheritOnly": 2}
# Enum.ToString() of a flags enumeration: names taken from the largest value down while all their bits are
# still left, printed in ascending order of value; of two names for one value the later-declared alias is
# not shown; bits no name covers make the whole value print as a (signed 32-bit) number.
_RIGHTS_NAMES = sorted(((bits, name) for name, bits in FILE_SYSTEM_RIGHTS.items()
                        if name not in ("ListDirectory", "CreateFiles", "CreateDirectories", "Traverse")), reverse=True)


def parse_rights(value):
    """``'Modify, Synchronize'``, ``'268435456'`` or an int -> the access mask (unsigned 32 bits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value & 0xFFFFFFFF
    text = str(value).strip()
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text) & 0xFFFFFFFF
    mask = 0
    for part in text.split(","):
        name = part.strip()
        if name not in FILE_SYSTEM_RIGHTS:
            raise WorldError(f"'{value}' is not a FileSystemRights value ('{name}' is no name of it)")
        mask |= FILE_SYSTEM_RIGHTS[name]
    return mask


def rights_text(mask):
    """An access mask as ``[FileSystemRights]$mask).ToString()`` prints it."""
    rest, names = mask, []
    for bits, name in _RIGHTS_NAMES:
        if rest & bits == bits:
            names.append((bits, name))
            rest &= ~bits
    if rest or not names:
        return str(mask - (1 << 32) if mask & 0x80000000 else mask)
    return ", ".join(name for _, name in sorted(names))


def parse_flags(value, table):
    """``'ContainerInherit, ObjectInherit'`` / ``'None'`` -> bits of ``table``."""
    bits = 0
    for part in str(value if value is not None else "None").split(","):
        name = part.strip()
        if name and name != "None":
            if name not in table:
                raise WorldError(f"'{value}' names '{name}', which is not one of {', '.join(table)}")
            bits |= table[name]
    return bits


def flags_text(bits, table):
    names = [name for name, bit in sorted(table.items(), key=lambda item: item[1]) if bits & bit]
    return ", ".join(names) if names else "None"


def read_ace(ace):
    """A model ACE (``{sid, rights, type, inheritance, propagation, inherited}``) as a CommonAce's fields:
    ``{sid, mask, allow, inheritance, propagation, inherited}``."""
    return {"sid": str(ace["sid"]).strip().upper(), "mask": parse_rights(ace.get("rights", "FullControl")),
            "allow": str(ace.get("type", "Allow")).lower() == "allow",
            "inheritance": parse_flags(ace.get("inheritance", "None"), INHERITANCE_FLAGS),
            "propagation": parse_flags(ace.get("propagation", "None"), PROPAGATION_FLAGS),
            "inherited": bool(ace.get("inherited", False))}


def model_ace(fields):
    """The inverse of :func:`read_ace`: what the model stores for an ACE."""
    return {"sid": fields["sid"], "rights": rights_text(fields["mask"]), "type": "Allow" if fields["allow"] else "Deny",
            "inheritance": flags_text(fields["inheritance"], INHERITANCE_FLAGS),
            "propagation": flags_text(fields["propagation"], PROPAGATION_FLAGS), "inherited": fields["inherited"]}


def access_rule(resolver, ace):
    """One model ACE as ``(Get-Acl).Access`` shows it on the resolver's node (host_facts' ``Access`` shape)."""
    sid = str(ace["sid"]).strip().upper()
    return {"IdentityReference": resolver.translate(sid), "Sid": sid,
            "FileSystemRights": str(ace.get("rights", "FullControl")), "AccessControlType": ace.get("type", "Allow"),
            "InheritanceFlags": ace.get("inheritance", "None"), "PropagationFlags": ace.get("propagation", "None"),
            "IsInherited": bool(ace.get("inherited", False))}


def same_ace(a, b):
    """Whether two model ACEs are the same entry (same SID, type, mask, flags), however their text is spelt."""
    return read_ace(a) == read_ace(b)


def canonical_insert_index(access):
    """Where an explicit ACE goes in a DACL kept in canonical order: after the explicit ACEs, before the first
    inherited one ("Order of ACEs in a DACL",
    https://learn.microsoft.com/windows/win32/secauthz/order-of-aces-in-a-dacl: explicit ACEs precede
    inherited ones)."""
    for index, ace in enumerate(access):
        if ace.get("inherited"):
            return index
    return len(access)


ACL_LOCK_NAME = ".hyperv-backup-acl.lock"
UNAUTHORIZED = "Attempted to perform an unauthorized operation."


# -- the registry --------------------------------------------------------------------------------------------
# Value names of a key compare without regard to case ("value names are not case sensitive", RegDeleteValue,
# https://learn.microsoft.com/windows/win32/api/winreg/nf-winreg-regdeletevaluew), one character at a time.
REGISTRY_DENIED = "Requested registry access is not allowed."


def value_key(name):
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in str(name))


def find_value(values, name):
    """The name under which ``values`` (a key's name -> data) holds ``name``, or None."""
    wanted = value_key(name)
    for existing in values or {}:
        if value_key(existing) == wanted:
            return existing
    return None


def registry_write_error(data, node, name):
    """The message a write (SetValue, DeleteValue) of value ``name`` on ``node`` throws with, or None
    (``faults.registry_writes``: ``{node?, name?, message?}``)."""
    for entry in (data.get("faults") or {}).get("registry_writes") or []:
        if entry.get("node") and str(entry["node"]).lower() != str(node).lower():
            continue
        if entry.get("name") is not None and value_key(entry["name"]) != value_key(name):
            continue
        return entry.get("message") or REGISTRY_DENIED
    return None


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


# -- the cluster's configuration store (cluster_config_store) -------------------------------------------------
# ConfigStoreRootPath is a private parameter of the cluster resource of type 'Virtual Machine Cluster WMI'
# (``cluster.parameters``; ``parameters: null``: the cluster has no such resource). Windows refuses to change
# it once it has a value: "The request is not supported" (Microsoft KB 4488568, "Can't change the
# ConfigStoreRootPath value of a Hyper-V cluster", https://learn.microsoft.com/troubleshoot/windows-server/
# virtualization/cannot-change-configstorerootpath-value-hyperv-cluster). Microsoft does not document whether
# Set-ClusterParameter checks that the folder exists; a value naming a missing folder breaks live migration
# (Hyper-V-High-Availability event 21502, "Failed to verify collection registry ... (0x80070002)", reported in
# the field) and can then never be corrected, so hvsim takes the strictest case: the folder must exist.
CONFIG_STORE_RESOURCE = "Virtual Machine Cluster WMI"
REQUEST_NOT_SUPPORTED = "The request is not supported."
PATH_NOT_FOUND = "The system cannot find the path specified."


def has_config_store_resource(data):
    """Whether the cluster has a resource of type 'Virtual Machine Cluster WMI'."""
    cluster = data.get("cluster") or {}
    return bool(cluster) and not ("parameters" in cluster and cluster["parameters"] is None)


def config_store_root_path(data):
    """``Get-ClusterParameter ConfigStoreRootPath`` of that resource: ``''`` when unset."""
    value = ((data.get("cluster") or {}).get("parameters") or {}).get("ConfigStoreRootPath")
    return "" if value is None else str(value)


def set_config_store_root_path(data, node, value):
    """``Set-ClusterParameter -Name ConfigStoreRootPath``: refused once set, and for a folder that does not
    exist (see above); raises :class:`WorldError` with the host's message."""
    if config_store_root_path(data):
        raise WorldError(REQUEST_NOT_SUPPORTED)
    if not folder_exists(data, node, value):
        raise WorldError(PATH_NOT_FOUND)
    cluster = data["cluster"]
    parameters = cluster.get("parameters") or {}
    parameters["ConfigStoreRootPath"] = str(value)
    cluster["parameters"] = parameters


# -- folders that modules create ------------------------------------------------------------------------------
# A CSV's own folder (C:\ClusterStorage\VolumeN) exists on every node while the volume is Online, listed under
# ``folders`` or not: it is the volume's mount point. A created folder inherits the access rules of its parent
# that apply to subfolders (ContainerInherit), as inherited rules; without a listed parent it gets SYSTEM and
# Administrators Full Control, inherited (what a folder on a freshly formatted volume shows).
_DEFAULT_FOLDER_ACCESS = (
    {"sid": "S-1-5-18", "rights": "FullControl", "type": "Allow", "inheritance": "ContainerInherit, ObjectInherit",
     "propagation": "None", "inherited": True},
    {"sid": "S-1-5-32-544", "rights": "FullControl", "type": "Allow",
     "inheritance": "ContainerInherit, ObjectInherit", "propagation": "None", "inherited": True},
)


def _csv_root(data, path):
    """The Online shared volume whose own folder ``path`` is, or None."""
    for volume in (data.get("cluster") or {}).get("shared_volumes") or []:
        if paths_equal(volume["path"], path) and str(volume.get("state", "Online")).lower() == "online":
            return volume
    return None


def folder_exists(data, node, path):
    """Whether ``Get-Item -LiteralPath <path>`` finds a folder on ``node`` (a listed folder it sees, or the
    folder of an Online CSV)."""
    return find_folder(data, node, path) is not None or _csv_root(data, path) is not None


def parent_path(path):
    """``[System.IO.Path]::GetDirectoryName``: the folder holding ``path``, or None for a drive's root."""
    text = normalize_path(path)
    head, sep, _ = text.rpartition("\\")
    if not sep or len(text) <= 3:
        return None
    return head + "\\" if head.endswith(":") else head


def add_folder(data, path):
    """``New-Item -ItemType Directory`` for one folder whose parent exists: list it under ``folders``."""
    parent = parent_path(path)
    parent_spec = None
    for folder_path, spec in (data.get("folders") or {}).items():
        if parent is not None and paths_equal(folder_path, parent):
            parent_spec = spec or {}
    if parent_spec is None:
        access = [dict(ace) for ace in _DEFAULT_FOLDER_ACCESS]
        owner = "S-1-5-32-544"
    else:
        owner = parent_spec.get("owner", "S-1-5-32-544")
        access = [dict(ace, inherited=True, propagation="None") for ace in parent_spec.get("access") or []
                  if "containerinherit" in str(ace.get("inheritance", "")).replace(" ", "").lower()]
    folders = data.setdefault("folders", {})
    folders[normalize_path(path)] = {"nodes": "all", "owner": owner, "access": access}


def remove_folder(data, path):
    """``[System.IO.Directory]::Delete`` (not recursive): remove a listed folder that holds no listed folder;
    raises :class:`WorldError` otherwise."""
    folders = data.get("folders") or {}
    key = next((p for p in folders if paths_equal(p, path)), None)
    if key is None:
        raise WorldError(f"Could not find a part of the path '{path}'.")
    if any(not paths_equal(p, path) and is_under(p, path) for p in folders):
        raise WorldError(f"The directory is not empty. : '{path}'")
    del folders[key]


# -- integration services (backup_integration) ----------------------------------------------------------------
# Get-VMIntegrationService lists a VM's integration services; each one's Id is
# "Microsoft:<VM ID>\<integration component GUID>" and its Name is localized (the display language of the
# host), so modules find one by the GUID that ends its Id. The GUIDs are those of the integration components
# in Hyper-V's WMI provider (Msvm_VssComponentSettingData.InstanceID "Microsoft:<VM ID>\5CED1297-...") that
# HashiCorp's Vagrant and Packer Hyper-V drivers map the services to for the same reason
# (https://github.com/hashicorp/vagrant/blob/e2dd23b06ca8c94f175e248d2ca28d2cc3055983/plugins/providers/hyperv/
# driver.rb, INTEGRATION_SERVICES_MAP, citing a TechNet thread on Get-VMIntegrationService being language
# dependent). The English names are those Microsoft's "Manage Hyper-V Integration Services" shows; the German
# and Japanese ones stand for any localized host (``nodes[].display_language``): only their difference from
# the English names matters here.
# Enable- and Disable-VMIntegrationService change a Running VM (the guest's service starts or stops by itself,
# "Manage Hyper-V Integration Services", https://learn.microsoft.com/windows-server/virtualization/hyper-v/
# manage/manage-hyper-v-integration-services) or an Off one (a setting). Microsoft does not say what they do
# for a Saved, Paused or otherwise transitional VM: hvsim takes the strictest case, they fail.
VSS_INTEGRATION_COMPONENT = "5CED1297-4598-4915-A5FC-AD21BB4D02A4"
INTEGRATION_COMPONENTS = (
    ("6C09BB55-D683-4DA0-8931-C9BF705F6480", {"en-US": "Guest Service Interface", "de-DE": "Gastdienstschnittstelle",
                                               "ja-JP": "ゲスト サービス インターフェイス"}),
    ("84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47", {"en-US": "Heartbeat", "de-DE": "Takt", "ja-JP": "ハートビート"}),
    ("2A34B1C2-FD73-4043-8A5B-DD2159BC743F", {"en-US": "Key-Value Pair Exchange",
                                               "de-DE": "Austausch von Schlüsselwertepaaren", "ja-JP": "キー値ペアの交換"}),
    ("9F8233AC-BE49-4C79-8EE3-E7E1985B2077", {"en-US": "Shutdown", "de-DE": "Herunterfahren", "ja-JP": "シャットダウン"}),
    ("2497F4DE-E9FA-4204-80E4-4B75C46419C0", {"en-US": "Time Synchronization", "de-DE": "Zeitsynchronisierung",
                                               "ja-JP": "時刻の同期"}),
    (VSS_INTEGRATION_COMPONENT, {"en-US": "VSS", "de-DE": "Sicherung (Volumeschattenkopie)",
                                 "ja-JP": "バックアップ (ボリューム シャドウ コピー)"}),
)
DISPLAY_LANGUAGES = ("en-US", "de-DE", "ja-JP")
INTEGRATION_SERVICE_STATES = ("off", "running")


def display_language(node):
    """The node's display language (``nodes[].display_language``, default ``en-US``)."""
    return str(node.get("display_language") or "en-US")


def integration_services(node, vm):
    """What ``Get-VMIntegrationService -VM <vm>`` lists on ``node``: ``[{Name, Id, Enabled,
    PrimaryStatusDescription}]``. ``backup_integration: null`` in the model: the VM has no VSS component."""
    language = display_language(node)
    services = []
    for guid, names in INTEGRATION_COMPONENTS:
        if guid == VSS_INTEGRATION_COMPONENT:
            if "backup_integration" in vm and vm["backup_integration"] is None:
                continue
            backup = vm.get("backup_integration") or {}
            enabled, status = bool(backup.get("enabled", True)), backup.get("status")
        else:
            enabled, status = guid != INTEGRATION_COMPONENTS[0][0], "OK"
        services.append({"Name": names.get(language, names["en-US"]),
                         "Id": f"Microsoft:{str(vm['id']).upper()}\\{guid}",
                         "Enabled": enabled, "PrimaryStatusDescription": status})
    return services


def find_integration_service(services, guid):
    """The service whose Id ends with ``\\<guid>`` (any case), as the .ps1 finds it; or None."""
    suffix = "\\" + guid.upper()
    return next((s for s in services if str(s["Id"]).upper().endswith(suffix)), None)


def set_backup_integration(vm, enabled):
    """``Enable-`` / ``Disable-VMIntegrationService`` of the VSS component; refused (strictest case, see above)
    unless the VM is Off or Running: raises :class:`WorldError` with hvsim's wording."""
    state = vm_state(vm)
    if state.lower() not in INTEGRATION_SERVICE_STATES:
        raise WorldError(f"The operation cannot be performed while the virtual machine '{vm['name']}' is in its "
                         f"current state ({state}).")
    backup = vm.get("backup_integration")
    if not isinstance(backup, dict):
        backup = {}
        vm["backup_integration"] = backup
    backup["enabled"] = bool(enabled)


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
