"""Planner of ``hyperv.backup.vm_folder_access``: Full Control with object inheritance for each VM's account
on the folders that hold shared VHD Set files. Plain functions over plain data.

What it is for (user-facing)
----------------------------
A guest cluster's nodes share a VHD Set (a ``.vhds`` file and its ``.avhdx`` backing and checkpoint files)
on a Cluster Shared Volume or an SMB share. A host-level backup of such a VM ends with a background merge
of the recovery checkpoint, run as the VM's own account, ``NT VIRTUAL MACHINE\\<VM GUID>``; without access
to the folder it fails with VMMS event 19100, "background disk merge failed to complete: General access
denied error (0x80070005)". Microsoft's fix (KB 4230569, "Errors when backing up VMs that belong to a
guest cluster in Windows") is, for every VM that uses the folder,
``icacls <folder> /grant "NT VIRTUAL MACHINE\\<VM GUID>":(OI)F``. This capability does that for every VM
and folder at once, by SID (``S-1-5-83-1-...``, see ``_sid``): the account name resolves only on the node
where the VM is registered, the SID on every node, so one node can grant the whole guest cluster.

Which folders and which VMs (:func:`resolve_targets`)
----------------------------------------------------
- ``path`` and ``vm_ids``: that folder, those VMs. An ID must be a VM of the view (a typo in a complete view
  is far likelier than a VM nobody reported). ``allow_unknown_vm_ids: true`` grants an ID the view does
  not know, by SID, for the case where a VM of another cluster shares the folder (a guest cluster spanning
  two host clusters on one Scale-Out File Server share).
- ``path`` alone: every VM of the view with a virtual disk in that folder or below it (the disks decide,
  not the configuration files: the merge works on the disks).
- ``discover: true``: every folder that holds a ``.vhds`` file of a VM of the view, each with the VMs that
  use it (the view's ``vhd_set_folders``).
- The view is ``cluster_view`` over every node's facts (the roles gather on every node and apply on one:
  every node sees the cluster's volumes). Without a view, ad hoc on each node, a node considers only the
  VMs registered on it: clustered VMs of other nodes are listed under ``elsewhere`` (their node grants
  them), and the result's ``note`` says so; a cluster node with no VM in ``path`` has nothing to do (a
  warning, not an error: the other nodes have theirs). Run ad hoc on every node at once, the nodes edit the
  same ACL concurrently; the host side is built for that (see below).
- Checked before anything changes, each error naming the value: a malformed VM ID (the 35-character one
  of the field script); ``vm_ids`` without ``path``; ``path`` with ``discover``; a path that is not an
  absolute ``C:\\...`` or ``\\\\server\\share\\...`` path, or has ``.``/``..`` segments, wildcards, quotes,
  a stream (``:``) or control characters; a path that is a volume or share root (Full Control inherited by
  every file of a volume would reach other VMs' disks); a path that is not on a Cluster Shared Volume of
  the view (``cluster.SharedVolumes``) nor on a share that the VMs' disks use (``\\\\server\\share`` of a
  disk path); a path under which no VM of the view (or of a stand-alone host) has a disk (``path``
  alone). Whether the folder exists is for the
  host to say: the action plugin reads its ACL with ``host_facts`` ``acl_paths``, which fails for a path
  that does not exist; :func:`plan` needs that ACL for every folder.

Judging an ACL (:func:`judge`)
------------------------------
The ACL is ``host_facts``' ``acls[].Access``, in order: ``Sid``, ``FileSystemRights``, ``AccessControlType``,
``InheritanceFlags``, ``PropagationFlags``, ``IsInherited``.

- Rights are an access mask. ``FileSystemRights`` is what .NET's ``[FileSystemRights].ToString()`` gives:
  names joined by ``, `` (``FullControl``, ``Modify, Synchronize``) or, when the mask has bits no name
  covers, the number as a signed 32-bit integer (``268435456`` is GENERIC_ALL, ``-1610612736`` is
  GENERIC_READ|GENERIC_EXECUTE); an integer is taken as it is. Names and values are those of the
  ``System.Security.AccessControl.FileSystemRights`` enumeration
  (https://learn.microsoft.com/dotnet/api/system.security.accesscontrol.filesystemrights): FullControl is
  2032127 (0x1F01FF), Modify 197055 (0x301BF), ReadAndExecute 131241 (0x200A9), Synchronize 1048576
  (0x100000), and so on (``RIGHTS``). A name that is not in the enumeration makes that folder ``failed``
  (its ACL is not understood, so it is not rewritten).
- Full Control means the mask holds every bit of 0x1F01FF. Generic bits (GENERIC_ALL 0x10000000 and the
  others) do not count: Windows maps generic rights to specific ones when it builds effective ACEs, and
  whether an access check maps them in an explicit ACE of a file system object is not documented, so the
  strict reading is taken (an ACE with only GENERIC_ALL is upgraded by adding the specific bits).
- An ACE counts (the VM is ``ok`` on that folder) when it is explicit (``IsInherited`` false), Allow, for
  the VM's SID, with Full Control, with ``ObjectInherit`` (``ContainerInherit`` beside it is fine: more than
  needed, and left as it is), and with ``PropagationFlags`` ``None``. ``InheritOnly`` does not count: the
  folder itself would have no grant, and the merge creates and deletes files in it. ``NoPropagateInherit``
  does not count: files in subfolders would not inherit it. This is exactly what ``icacls ... :(OI)F``
  writes.
- An inherited ACE never counts: it belongs to the parent and changes with it.
- A weaker explicit Allow ACE for the SID (fewer rights, no ``ObjectInherit``, a propagation flag) is
  upgraded in place: the first such ACE gets the Full Control bits added to its mask, ``ObjectInherit``
  added to its inheritance flags and its propagation flags cleared. Its other bits and its position stay.
- No such ACE: a new one, ``Allow FullControl ObjectInherit None``, goes right after the explicit ACEs,
  before the first inherited one (the canonical order keeps explicit ACEs before inherited ones, so a
  canonical ACL stays canonical; a non-canonical one is not reordered).
- An explicit Deny ACE for the SID: the VM is ``failed`` on that folder and nothing is added for it (a deny
  is somebody's decision and comes first in the ACL, so an allow would not help); the message says which
  rights it denies and that it must be removed by hand. An inherited Deny ACE for the SID is a warning
  only: an explicit Allow comes before inherited ACEs and wins.
- A Deny ACE for ``S-1-5-83-0`` (NT VIRTUAL MACHINE\\Virtual Machines, every VM account is a member) is a
  warning naming it.
- Every other ACE, explicit or inherited, is left exactly as it was, in its place; nothing is duplicated on
  a re-run (an ACE that counts is never added again).

Purge (``purge_stale: true``)
-----------------------------
Removes the explicit Allow ACEs of ``S-1-5-83-1-*`` SIDs whose VM exists nowhere in the cluster (neither
reported by a node nor a clustered VM role), on the target folders that are on a Cluster Shared Volume.
Nothing else is ever removed: not ``S-1-5-83-0``, not another principal, not a SID that is not exactly
``S-1-5-83-1-a-b-c-d``, not an inherited ACE (a warning says to purge the parent), not a Deny ACE (a
warning names it). It needs a complete view, and refuses otherwise, naming what is missing: a view, not
one node's facts; a failover cluster; facts from every member node, whatever its state (a VM registered
only on an unseen node is not stale, and removing its ACE would break its backup: bring the node back or
evict it); ``vms`` gathered on every node. Folders on an SMB share are not purged (a warning says so): a
share may serve VMs of other clusters, which no view of this cluster sees.

The plan (:func:`plan`)
-----------------------
``{'scope', 'node', 'note', 'folders', 'vms', 'operations', 'elsewhere', 'warnings', 'purge', 'changed'}``
(``changed``: there are operations, so a real run writes and check mode reports a change):

- ``folders``: per folder ``{'path', 'status': ok|changed|failed, 'vms': [{'id', 'name', 'node', 'sid',
  'account', 'status', 'msg'?}], 'grant', 'revoke', 'before', 'after', 'sddl_before', 'sddl_after',
  'warnings', 'msg'?}``. ``before`` / ``after`` are the ACL's entries as host_facts reports them (readable);
  ``sddl_*`` are the same entries as SDDL ACE strings (``(A;OI;FA;;;S-1-5-83-1-...)``; full SIDs, and a hex
  mask where Windows might print a token: equivalent SDDL, not necessarily Windows' spelling).
- ``vms``: per VM, the folders it needed and its overall status.
- ``operations``: what the host module is given, one per folder that changes (``module_args``).

What the PowerShell module (``vm_folder_access.ps1``) is given and reports
-------------------------------------------------------------------------
Arguments: ``folders``, a list of ``{'path', 'grant': [{'sid', 'rights': 'FullControl', 'inheritance':
'ObjectInherit', 'propagation': 'None'}], 'revoke': [{'sid'}]}``; ``lock_timeout`` (seconds, default 60).
The operations are *intent*, not a new ACL: the host re-applies them against the ACL as it finds it when it
writes, so that nodes editing one folder at once never lose each other's ACEs. Per folder, in its own
try/catch (a folder's failure is that folder's result, the others go on):

1. ``Get-Item -LiteralPath`` the folder: it must exist and be a directory.
2. Serialise writers: create ``<folder>\\.hyperv-backup-acl.lock`` with ``FileMode.CreateNew``,
   ``FileShare.None`` and ``FileOptions.DeleteOnClose``, retrying with a random back-off until
   ``lock_timeout`` (the file system arbitrates creation on a CSV or a share, so two nodes never hold it
   at once); on timeout the folder fails naming the lock file. Release it in ``finally``.
3. Read the DACL as raw ACEs in order (``[System.IO.Directory]::GetAccessControl`` with
   ``AccessControlSections.Access``, ``GetSecurityDescriptorBinaryForm()`` into a
   ``RawSecurityDescriptor``), so that ACE order and non-canonical ACLs are preserved.
4. Apply the intent exactly as :func:`apply_intent` does (the reference implementation): for each
   ``revoke``, remove every explicit Allow ACE of that SID, refusing any SID that is not ``S-1-5-83-1-`` and
   four numbers; for each ``grant``, nothing if an ACE counts (rules above), else upgrade the first
   explicit Allow ACE of the SID in place, else insert a new ACE before the first inherited ACE; a SID with
   an explicit Deny ACE gets nothing and is reported failed.
5. Nothing to do: ``ok``. Otherwise write the DACL only, in the raw order (for instance a
   ``DirectorySecurity`` from the raw binary form, ``SetAccessControl`` with ``AccessControlSections.Access``;
   never the owner, never the SACL; an API that would reorder the ACEs is not used), read it back, and
   verify: every grant counts, every revoked SID has no explicit Allow ACE, every ACE read in step 3
   and not revoked or upgraded is still there in the same relative order. A failed verification (someone
   outside this module wrote in between) goes back to step 3, up to 3 attempts, then the folder fails with
   what is missing.
6. In check mode: steps 1, 3 and 4 only, reporting what would be written.

It returns ``changed`` and ``folders``: per folder ``{'path', 'status': ok|changed|failed, 'before': [...],
'after': [...], 'granted': [sid], 'upgraded': [sid], 'revoked': [sid], 'denied': [sid], 'attempts',
'error'?}``, ``before`` / ``after`` in host_facts' ``Access`` shape, ``after`` read back. :func:`merge` judges
that ``after`` again for every VM: the host's read-back wins over the plan.
"""
import re

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import vhd_set_folders
from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import (
    VIRTUAL_MACHINES_GROUP, VmIdError, is_vm_sid, vm_account, vm_id, vm_id_from_sid, vm_sid)
from ansible_collections.hyperv.backup.plugins.plugin_utils._text import check_text
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError
from ansible_collections.hyperv.backup.plugins.plugin_utils._windows_path import is_under, normalize
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type

# System.Security.AccessControl.FileSystemRights (see the module docstring for the source).
RIGHTS = {
    "ReadData": 0x1, "ListDirectory": 0x1, "WriteData": 0x2, "CreateFiles": 0x2, "AppendData": 0x4,
    "CreateDirectories": 0x4, "ReadExtendedAttributes": 0x8, "WriteExtendedAttributes": 0x10,
    "ExecuteFile": 0x20, "Traverse": 0x20, "DeleteSubdirectoriesAndFiles": 0x40, "ReadAttributes": 0x80,
    "WriteAttributes": 0x100, "Write": 0x116, "Delete": 0x10000, "ReadPermissions": 0x20000,
    "Read": 0x20089, "ReadAndExecute": 0x200A9, "Modify": 0x301BF, "ChangePermissions": 0x40000,
    "TakeOwnership": 0x80000, "Synchronize": 0x100000, "FullControl": 0x1F01FF,
}
FULL_CONTROL = RIGHTS["FullControl"]
GENERIC_ALL, GENERIC_EXECUTE, GENERIC_WRITE, GENERIC_READ = 0x10000000, 0x20000000, 0x40000000, 0x80000000
# System.Security.AccessControl.InheritanceFlags / PropagationFlags.
INHERITANCE = {"ContainerInherit": 1, "ObjectInherit": 2}
PROPAGATION = {"NoPropagateInherit": 1, "InheritOnly": 2}
OBJECT_INHERIT = INHERITANCE["ObjectInherit"]
# The grant KB 4230569 prescribes, (OI)F, as the module receives it.
GRANT = {"rights": "FullControl", "inheritance": "ObjectInherit", "propagation": "None"}
LOCK_TIMEOUT = 60
MAX_LOCK_TIMEOUT = 86400
STATUSES = ("changed", "ok", "failed")

# .NET's Enum.ToString() for a flags enum takes names from the largest value down, each while its bits are
# all still left, and lists them in ascending order of value; of two names for one value, one is shown.
_NAMES_FOR_TEXT = sorted(((bits, name) for name, bits in RIGHTS.items()
                          if name not in ("ListDirectory", "CreateFiles", "CreateDirectories", "Traverse")), reverse=True)
_SDDL_RIGHTS = {0x1F01FF: "FA", 0x120089: "FR", 0x120116: "FW", 0x1200A0: "FX", GENERIC_ALL: "GA",
                GENERIC_READ: "GR", GENERIC_WRITE: "GW", GENERIC_EXECUTE: "GX"}
_DRIVE_RE = re.compile(r"^[A-Za-z]:[\\/]")
_UNC_RE = re.compile(r"^[\\/]{2}([^\\/]+)[\\/]([^\\/]+)")
_PATH_FORBIDDEN = set('<>"|?*')


class AclError(ValueError):
    """An ACL entry this planner does not understand; the folder it belongs to fails, with this message."""


# --- rights, flags and entries ----------------------------------------------------------------------------

def parse_rights(value):
    """``'Modify, Synchronize'`` / ``'268435456'`` / ``-1610612736`` / ``2032127`` -> the access mask (uint32)."""
    if isinstance(value, bool):
        raise AclError(f"FileSystemRights {value!r} is not a set of rights")
    if isinstance(value, int):
        return value & 0xFFFFFFFF
    text = str(value).strip()
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text) & 0xFFFFFFFF
    mask = 0
    for part in text.split(","):
        name = part.strip()
        if name not in RIGHTS:
            raise AclError(f"FileSystemRights '{value}' has '{name}', which is not a FileSystemRights name")
        mask |= RIGHTS[name]
    return mask


def rights_text(mask):
    """An access mask as .NET's ``FileSystemRights.ToString()`` prints it."""
    if mask == 0:
        return "0"
    rest, names = mask, []
    for bits, name in _NAMES_FOR_TEXT:
        if rest & bits == bits:
            names.append((bits, name))
            rest &= ~bits
    if rest:
        return str(mask - (1 << 32) if mask & 0x80000000 else mask)
    return ", ".join(name for _bits, name in sorted(names))


def _parse_flags(value, table, what):
    if isinstance(value, bool):
        raise AclError(f"{what} {value!r} is not a set of flags")
    if isinstance(value, int):
        return value
    flags = 0
    for part in str(value if value is not None else "None").split(","):
        name = part.strip()
        if name == "None":
            continue
        if name not in table:
            raise AclError(f"{what} '{value}' has '{name}', which is not one of {', '.join(table)}")
        flags |= table[name]
    return flags


def _flags_text(flags, table):
    names = [name for name, bit in sorted(table.items(), key=lambda item: item[1]) if flags & bit]
    return ", ".join(names) if names else "None"


def parse_entry(entry):
    """One ``Access`` entry -> ``{'sid', 'mask', 'allow', 'inheritance', 'propagation', 'inherited'}``."""
    if not isinstance(entry, dict):
        raise AclError(f"an Access entry is {describe_type(entry)}, not a dict")
    kind = entry.get("AccessControlType")
    if kind not in ("Allow", "Deny"):
        raise AclError(f"AccessControlType {kind!r} is neither Allow nor Deny")
    sid = entry.get("Sid")
    if not isinstance(sid, str) or not sid.upper().startswith("S-1-"):
        raise AclError(f"Sid {sid!r} is not a SID")
    return {
        "sid": sid.upper(),
        "mask": parse_rights(entry.get("FileSystemRights")),
        "allow": kind == "Allow",
        "inheritance": _parse_flags(entry.get("InheritanceFlags"), INHERITANCE, "InheritanceFlags"),
        "propagation": _parse_flags(entry.get("PropagationFlags"), PROPAGATION, "PropagationFlags"),
        "inherited": bool(entry.get("IsInherited")),
    }


def _counts(ace, sid):
    return (ace["sid"] == sid and ace["allow"] and not ace["inherited"] and ace["mask"] & FULL_CONTROL == FULL_CONTROL
            and ace["inheritance"] & OBJECT_INHERIT and ace["propagation"] == 0)


def _shortfalls(ace):
    missing = []
    if ace["mask"] & FULL_CONTROL != FULL_CONTROL:
        missing.append(f"has {rights_text(ace['mask'])}, not Full Control")
    if not ace["inheritance"] & OBJECT_INHERIT:
        missing.append("has no object inheritance (OI)")
    if ace["propagation"] & PROPAGATION["InheritOnly"]:
        missing.append("is inherit-only, so the folder itself has no grant")
    if ace["propagation"] & PROPAGATION["NoPropagateInherit"]:
        missing.append("does not propagate (NoPropagateInherit), so files in subfolders have no grant")
    return missing


def judge(access, sid):
    """How an ACL (``Access`` entries, in order) stands for one VM SID.

    Returns ``{'state': 'ok'|'weaker'|'missing'|'denied', 'index', 'reason', 'warnings'}``: ``index`` is the
    ACE that counts (ok), that would be upgraded (weaker) or the explicit Deny ACE (denied); ``reason`` says
    why in words. Raises :class:`AclError` for an entry it does not understand.
    """
    sid = sid.upper()
    aces = [parse_entry(entry) for entry in access]
    warnings = [f"an inherited Deny ACE for {sid} ({rights_text(a['mask'])}) is overridden by the explicit Allow ACE"
                for a in aces if a["sid"] == sid and not a["allow"] and a["inherited"]]
    for index, ace in enumerate(aces):
        if ace["sid"] == sid and not ace["allow"] and not ace["inherited"]:
            return {"state": "denied", "index": index, "warnings": warnings,
                    "reason": f"an explicit Deny ACE for {sid} denies {rights_text(ace['mask'])}; it is left as it is "
                              "(remove it by hand if the VM should have access)"}
    for index, ace in enumerate(aces):
        if _counts(ace, sid):
            return {"state": "ok", "index": index, "warnings": warnings,
                    "reason": "an explicit Allow ACE gives Full Control with object inheritance"}
    for index, ace in enumerate(aces):
        if ace["sid"] == sid and ace["allow"] and not ace["inherited"]:
            return {"state": "weaker", "index": index, "warnings": warnings,
                    "reason": "its explicit Allow ACE " + " and ".join(_shortfalls(ace)) + "; it is upgraded in place"}
    inherited = any(a["sid"] == sid and a["allow"] and a["inherited"] for a in aces)
    return {"state": "missing", "index": None, "warnings": warnings,
            "reason": "only an inherited ACE, which does not count; an explicit one is added" if inherited
            else "no ACE; one is added"}


def _first_inherited(aces):
    for index, ace in enumerate(aces):
        if ace["inherited"]:
            return index
    return len(aces)


def apply_intent(access, grants=(), revokes=(), accounts=None):
    """The reference of what the host does with one folder's operations: ``access`` (entries, in order) ->
    ``(new entries, {'granted', 'upgraded', 'revoked', 'denied'})``.

    Entries that are not touched are returned as the same objects, in the same order. ``accounts`` maps a
    SID to the ``IdentityReference`` a new entry shows (default: the SID itself).
    """
    accounts = accounts or {}
    entries = list(access)
    aces = [parse_entry(entry) for entry in entries]
    done = {"granted": [], "upgraded": [], "revoked": [], "denied": []}
    for revoke in revokes:
        sid = revoke["sid"].upper()
        if not is_vm_sid(sid):
            raise AclError(f"refusing to revoke {sid}: only the SIDs of VM accounts (S-1-5-83-1-a-b-c-d) are revoked")
        keep = [i for i, ace in enumerate(aces) if not (ace["sid"] == sid and ace["allow"] and not ace["inherited"])]
        if len(keep) != len(aces):
            done["revoked"].append(sid)
        entries, aces = [entries[i] for i in keep], [aces[i] for i in keep]
    for grant in grants:
        sid = grant["sid"].upper()
        verdict = judge(entries, sid)
        if verdict["state"] == "denied":
            done["denied"].append(sid)
        elif verdict["state"] == "weaker":
            index = verdict["index"]
            ace = aces[index]
            ace = dict(ace, mask=ace["mask"] | FULL_CONTROL, inheritance=ace["inheritance"] | OBJECT_INHERIT, propagation=0)
            entries[index] = dict(entries[index], FileSystemRights=rights_text(ace["mask"]),
                                  InheritanceFlags=_flags_text(ace["inheritance"], INHERITANCE), PropagationFlags="None")
            aces[index] = ace
            done["upgraded"].append(sid)
        elif verdict["state"] == "missing":
            index = _first_inherited(aces)
            entries.insert(index, {"IdentityReference": accounts.get(sid, sid), "Sid": sid,
                                   "FileSystemRights": grant.get("rights", GRANT["rights"]), "AccessControlType": "Allow",
                                   "InheritanceFlags": grant.get("inheritance", GRANT["inheritance"]),
                                   "PropagationFlags": grant.get("propagation", GRANT["propagation"]), "IsInherited": False})
            aces.insert(index, parse_entry(entries[index]))
            done["granted"].append(sid)
    return entries, done


def sddl(entry):
    """One ``Access`` entry as an SDDL ACE string, e.g. ``(A;OICI;FA;;;S-1-5-18)``."""
    ace = parse_entry(entry)
    flags = ("OI" if ace["inheritance"] & OBJECT_INHERIT else "") + ("CI" if ace["inheritance"] & INHERITANCE["ContainerInherit"] else "")
    flags += ("NP" if ace["propagation"] & PROPAGATION["NoPropagateInherit"] else "")
    flags += ("IO" if ace["propagation"] & PROPAGATION["InheritOnly"] else "") + ("ID" if ace["inherited"] else "")
    rights = _SDDL_RIGHTS.get(ace["mask"], f"0x{ace['mask']:x}")
    return f"({'A' if ace['allow'] else 'D'};{flags};{rights};;;{ace['sid']})"


def _line(entry):
    ace = parse_entry(entry)
    return (f"{sddl(entry)}  {entry.get('IdentityReference') or ace['sid']}: {'Allow' if ace['allow'] else 'Deny'} "
            f"{entry.get('FileSystemRights')}, inheritance {entry.get('InheritanceFlags') or 'None'}, propagation "
            f"{entry.get('PropagationFlags') or 'None'}{', inherited' if ace['inherited'] else ''}")


# --- paths -------------------------------------------------------------------------------------------------

def check_path(path, option="path"):
    """Return ``path`` unchanged if it is an absolute folder path this capability accepts; else PlanError."""
    check_text(path, option, "a path")
    if path.replace("/", "\\").startswith(("\\\\?\\", "\\\\.\\")):
        raise PlanError(f"{option}: '{path}' is a device path; write C:\\... or \\\\server\\share\\...")
    if not (_DRIVE_RE.match(path) or _UNC_RE.match(path)):
        raise PlanError(f"{option}: '{path}' is not an absolute path (C:\\... or \\\\server\\share\\...)")
    rest = path[2:]  # after the drive's "C:" or the UNC's leading backslashes
    forbidden = sorted(_PATH_FORBIDDEN & set(rest)) + ([":"] if ":" in rest else [])
    if forbidden:
        raise PlanError(f"{option}: '{path}' contains {', '.join(repr(c) for c in forbidden)}, which a folder path "
                        "cannot (wildcards, quotes, streams)")
    segments = rest.replace("/", "\\").strip("\\").split("\\")
    for segment in segments:
        if segment in (".", ".."):
            raise PlanError(f"{option}: '{path}' has a '{segment}' segment; write the folder's full path")
        if segment == "" and rest.replace("/", "\\").strip("\\"):
            raise PlanError(f"{option}: '{path}' has an empty segment (two backslashes in a row)")
        if segment.endswith((" ", ".")):
            raise PlanError(f"{option}: '{path}' has the segment '{segment}', ending in a space or a dot, which Windows "
                            "drops; write the folder's name as Windows shows it")
    return path


def _share_root(path):
    match = _UNC_RE.match(str(path or ""))
    return f"\\\\{match.group(1)}\\{match.group(2)}" if match else None


def _roots(cluster, vms):
    """``[(root path, 'CSV <name>' or 'share')]``: where a target folder may be."""
    roots = [(csv["Path"], f"Cluster Shared Volume '{csv.get('Name')}'") for csv in (cluster or {}).get("SharedVolumes") or []
             if csv.get("Path")]
    shares = {}
    for vm in vms:
        for disk in vm.get("HardDisks") or []:
            root = _share_root(disk.get("Path"))
            if root:
                shares.setdefault(normalize(root), root)
    roots.extend((shares[key], "share") for key in sorted(shares))
    return roots


def _on_share(path):
    return _share_root(path) is not None


# --- targets -----------------------------------------------------------------------------------------------

def _vm_ref(vm_id_value, name=None, node=None, known=True):
    return {"id": vm_id_value, "name": name, "node": node, "sid": vm_sid(vm_id_value), "account": vm_account(vm_id_value),
            "known": known}


def _parse_vm_ids(vm_ids):
    if not isinstance(vm_ids, (list, tuple)):
        raise PlanError(f"vm_ids: expected a list of VM IDs, got {describe_type(vm_ids)}")
    ids, bad = [], []
    for index, value in enumerate(vm_ids):
        try:
            parsed = vm_id(value)
        except VmIdError as err:
            bad.append(f"vm_ids[{index}]: {err}")
            continue
        if parsed not in ids:
            ids.append(parsed)
    if bad:
        raise PlanError("; ".join(bad))
    return ids


def _check_complete_for_purge(view):
    if view is None:
        raise PlanError("purge_stale: needs the view of the whole cluster (cluster_view over the facts of every node); "
                        "one node's facts cannot tell a VM of another node from a VM that no longer exists")
    cluster = view.get("cluster")
    if not cluster:
        raise PlanError("purge_stale: needs the facts of a failover cluster's nodes; on stand-alone hosts nothing "
                        "says which other hosts use the folder")
    missing = cluster.get("MissingNodes") or []
    if missing:
        states = {n["Name"].upper(): n.get("State", "?") for n in cluster.get("Nodes") or []}
        named = ", ".join(f"{name} ({states.get(name.upper(), '?')})" for name in missing)
        raise PlanError(f"purge_stale: the view is incomplete, no facts from {named}; a VM registered there is not "
                        "stale and removing its ACE would break its backup. Gather facts on every node of the cluster "
                        "(bring a node that is down back, or evict it) and build the view from all of them")
    without_vms = sorted(name for name, facts in (view.get("nodes") or {}).items()
                         if "vms" not in (facts.get("gather_subset") or []))
    if without_vms:
        raise PlanError(f"purge_stale: the facts of {', '.join(without_vms)} were gathered without 'vms'; gather them "
                        "with the vms subset so that every VM of the cluster is known")


def _context(view, node_facts):
    """What the targets are chosen from: the whole cluster (a view) or one node (its facts)."""
    if view is not None:
        cluster = view.get("cluster")
        return {"scope": "cluster", "node": None, "cluster": cluster, "vms": list(view.get("vms") or []),
                "gathered_vms": all("vms" in (facts.get("gather_subset") or ["vms"])
                                    for facts in (view.get("nodes") or {}).values()),
                "note": None, "owned_elsewhere": {}, "where": "the cluster view",
                "warnings": [f"no facts from {name}: the VMs registered there were not considered"
                             for name in (cluster or {}).get("MissingNodes") or []]}
    name = (node_facts.get("node") or {}).get("Name", "this node")
    cluster = node_facts.get("cluster")
    return {"scope": "node", "node": name, "cluster": cluster,
            "vms": [dict(vm, Node=name) for vm in node_facts.get("vms") or []],
            "gathered_vms": "vms" in (node_facts.get("gather_subset") or ["vms"]),
            "note": (f"only the VMs registered on {name} were considered; the other nodes handle theirs "
                     "(give the cluster view to decide for the whole cluster on one node)"),
            "owned_elsewhere": {str(role["VMId"]).lower(): role for role in (cluster or {}).get("VMRoles") or []
                                if role.get("VMId") and str(role.get("OwnerNode", "")).upper() != name.upper()},
            "where": f"{name} nor a clustered VM role", "warnings": []}


def _refs_for_ids(ids, ctx, by_id, allow_unknown_vm_ids):
    """(refs, elsewhere, warnings) for explicit VM IDs; unknown IDs are an error unless allowed."""
    roles = {str(role["VMId"]).lower(): role for role in (ctx["cluster"] or {}).get("VMRoles") or [] if role.get("VMId")}
    refs, elsewhere, warnings, unknown = [], [], [], []
    for item in ids:
        if item in by_id:
            refs.append(_vm_ref(item, by_id[item]["Name"], by_id[item].get("Node")))
        elif item in ctx["owned_elsewhere"]:
            role = ctx["owned_elsewhere"][item]
            elsewhere.append({"id": item, "name": role.get("Name"), "node": role.get("OwnerNode")})
        elif ctx["scope"] == "cluster" and item in roles:
            refs.append(_vm_ref(item, roles[item].get("Name"), roles[item].get("OwnerNode")))
        elif allow_unknown_vm_ids:
            refs.append(_vm_ref(item, None, None, known=False))
            warnings.append(f"VM ID {item} is not a VM of {ctx['where']}; granted by SID as allow_unknown_vm_ids asks")
        else:
            unknown.append(item)
    if unknown:
        missing = (ctx["cluster"] or {}).get("MissingNodes") if ctx["scope"] == "cluster" else None
        where = ctx["where"] + (f" (no facts from {', '.join(missing)})" if missing else "")
        raise PlanError(f"vm_ids: {', '.join(unknown)} is no VM of {where}; check the IDs (Get-VM | Format-List Name, "
                        "Id), or set allow_unknown_vm_ids to grant them by SID anyway")
    return refs, elsewhere, warnings


def _check_place(path, ctx):
    """A target path must be inside (not the root of) a CSV or a share that the VMs use."""
    roots = _roots(ctx["cluster"], ctx["vms"])
    home = [root for root, _kind in roots if is_under(path, root)]
    if not home:
        known = "; ".join(f"{root} ({kind})" for root, kind in roots) or "none"
        raise PlanError(f"path: '{path}' is not on a Cluster Shared Volume or a share that the VMs use (known: {known})")
    if any(normalize(path) == normalize(root) for root in home):
        raise PlanError(f"path: '{path}' is the root of a volume or share; give the folder that holds the VHD Set "
                        "(Full Control inherited by every file of the volume would reach other VMs' disks)")


def _check_selection(path, vm_ids, discover):
    """The checks of ``path``, ``vm_ids`` and ``discover`` that need no facts; returns the parsed VM IDs or None."""
    if not isinstance(discover, bool):
        raise PlanError(f"discover: {discover!r} is not a boolean")
    if vm_ids is not None and path is None:
        raise PlanError("vm_ids: needs path, the folder to grant them access to")
    if discover and path is not None:
        raise PlanError("give path (with or without vm_ids) or discover: true, not both")
    if not discover and path is None:
        raise PlanError("give path (with or without vm_ids) or discover: true")
    ids = _parse_vm_ids(vm_ids) if vm_ids is not None else None
    if path is not None:
        check_path(path)
    return ids


def check_options(options):
    """Validate the options of ``hyperv.backup.vm_folder_access`` that need no facts, before any round trip
    (the same checks :func:`resolve_targets` makes, plus ``lock_timeout`` and ``purge_stale`` without a view).
    Raises :class:`PlanError` naming the value."""
    _check_selection(options.get("path"), options.get("vm_ids"), options.get("discover", False))
    timeout = options.get("lock_timeout", LOCK_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout <= MAX_LOCK_TIMEOUT:
        raise PlanError(f"lock_timeout: {timeout!r} is not a number of seconds from 0 to {MAX_LOCK_TIMEOUT}")
    if options.get("purge_stale") and options.get("cluster_view") is None:
        _check_complete_for_purge(None)


def resolve_targets(view=None, path=None, vm_ids=None, discover=False, node_facts=None,
                    allow_unknown_vm_ids=False, purge_stale=False):
    """Which folders, and which VMs on each, from a cluster view (``cluster_view``) or from one node's facts.

    Returns ``{'scope': 'cluster'|'node', 'node', 'note', 'folders': [{'path', 'vms': [ref...]}],
    'elsewhere': [{'id', 'name', 'node'}], 'warnings', 'existing_vm_ids', 'purge_stale'}``; a VM ref is
    ``{'id', 'name', 'node', 'sid', 'account', 'known'}``. Raises :class:`PlanError` naming the bad value.
    """
    if (view is None) == (node_facts is None):
        raise PlanError("give either the cluster view or one node's facts")
    ids = _check_selection(path, vm_ids, discover)
    if purge_stale:
        _check_complete_for_purge(view)

    ctx = _context(view, node_facts)
    if not ctx["gathered_vms"] and ids is None:
        raise PlanError("the facts were gathered without 'vms'; gather them with the vms subset to find the VMs")
    warnings, elsewhere, folders = list(ctx["warnings"]), [], []
    by_id = {str(vm["Id"]).lower(): vm for vm in ctx["vms"]}
    here = "of the cluster" if ctx["scope"] == "cluster" else f"registered on {ctx['node']}"
    if discover:
        for folder in vhd_set_folders(ctx["vms"]):
            refs = [_vm_ref(i.lower(), by_id[i.lower()]["Name"], by_id[i.lower()].get("Node")) for i in folder["VMIds"]]
            folders.append({"path": folder["Path"], "vms": refs})
        if not folders:
            warnings.append(f"no VM {here} uses a VHD Set (.vhds)")
    else:
        _check_place(path, ctx)
        using = [vm for vm in ctx["vms"] if any(is_under(d.get("Path") or "", path) for d in vm.get("HardDisks") or [])]
        if ids is not None:
            refs, elsewhere, more = _refs_for_ids(ids, ctx, by_id, allow_unknown_vm_ids)
            warnings.extend(more)
            others = sorted(vm["Name"] for vm in using if str(vm["Id"]).lower() not in ids)
            if others:
                one = len(others) == 1
                warnings.append(f"{', '.join(others)} also {'has a disk' if one else 'have disks'} under '{path}' and "
                                f"{'is' if one else 'are'} not in vm_ids")
        elif using:
            refs = [_vm_ref(str(vm["Id"]).lower(), vm["Name"], vm.get("Node")) for vm in using]
        elif ctx["scope"] == "node" and ctx["cluster"]:
            refs = []  # ad hoc on every node: this one has nothing there, the others may
            warnings.append(f"no VM {here} has a disk under '{path}'")
        else:
            raise PlanError(f"path: no VM {here} has a disk under '{path}'; give vm_ids to name the VMs")
        folders.append({"path": path, "vms": refs})

    if purge_stale:
        roles = {str(r["VMId"]).lower() for r in (ctx["cluster"] or {}).get("VMRoles") or [] if r.get("VMId")}
        granted = {ref["id"] for folder in folders for ref in folder["vms"]}  # a VM granted here is not stale
        existing = sorted(set(by_id) | roles | granted)
    else:
        existing = None
    return {"scope": ctx["scope"], "node": ctx["node"], "note": ctx["note"], "folders": folders, "elsewhere": elsewhere,
            "warnings": warnings, "existing_vm_ids": existing, "purge_stale": bool(purge_stale)}


def acl_paths(targets):
    """The folders whose ACL ``host_facts`` must read (``acl_paths``) before :func:`plan`."""
    return [folder["path"] for folder in targets["folders"]]


def acls_from(facts_or_view):
    """The ACLs (host_facts ``acls`` entries) found in one node's facts or in a view's nodes."""
    if "node" not in facts_or_view and "nodes" in facts_or_view:  # a view: its nodes' facts
        found = []
        for facts in facts_or_view["nodes"].values():
            found.extend(facts.get("acls") or [])
        return found
    return list(facts_or_view.get("acls") or [])


# --- the plan ----------------------------------------------------------------------------------------------

def _folder_plan(folder, acl, purge, existing):
    path = folder["path"]
    entry = {"path": path, "status": "ok", "vms": [], "grant": [], "revoke": [], "before": [], "after": [],
             "sddl_before": [], "sddl_after": [], "warnings": []}
    if acl is None:
        raise PlanError(f"the ACL of '{path}' was not read; gather it with host_facts acl_paths (which also says "
                        "whether the folder exists)")
    access = list(acl.get("Access") or [])
    entry["before"] = access
    try:
        aces = [parse_entry(a) for a in access]
        for vm in folder["vms"]:
            verdict = judge(access, vm["sid"])
            entry["warnings"].extend(verdict["warnings"])
            item = _ref_fields(vm)
            if verdict["state"] == "ok":
                item["status"] = "ok"
            elif verdict["state"] == "denied":
                item.update(status="failed", msg=verdict["reason"])
            else:
                item.update(status="changed", msg=verdict["reason"])
                entry["grant"].append(dict(GRANT, sid=vm["sid"]))
            entry["vms"].append(item)
        for ace in aces:
            if not ace["allow"] and ace["sid"] == VIRTUAL_MACHINES_GROUP:
                entry["warnings"].append(f"a{'n inherited' if ace['inherited'] else 'n explicit'} Deny ACE for "
                                         f"{VIRTUAL_MACHINES_GROUP} (NT VIRTUAL MACHINE\\Virtual Machines) denies "
                                         f"{rights_text(ace['mask'])} to every VM account")
        if purge:
            entry["revoke"], purge_warnings = _stale(path, aces, existing)
            entry["warnings"].extend(purge_warnings)
        accounts = {vm["sid"]: vm["account"] for vm in folder["vms"]}
        after = apply_intent(access, entry["grant"], entry["revoke"], accounts)[0]
        entry["after"] = after
        entry["sddl_before"] = [sddl(a) for a in access]
        entry["sddl_after"] = [sddl(a) for a in after]
    except AclError as err:
        msg = f"the ACL of '{path}' is not understood: {err}; it is left as it is"
        return dict(entry, status="failed", msg=msg, grant=[], revoke=[], after=access, sddl_before=[], sddl_after=[],
                    vms=[dict(_ref_fields(vm), status="failed", msg=msg) for vm in folder["vms"]])
    entry["warnings"] = list(dict.fromkeys(entry["warnings"]))
    if any(vm["status"] == "failed" for vm in entry["vms"]):
        entry["status"] = "failed"
        entry["msg"] = "; ".join(f"{vm['name'] or vm['id']}: {vm['msg']}" for vm in entry["vms"] if vm["status"] == "failed")
    elif entry["grant"] or entry["revoke"]:
        entry["status"] = "changed"
    return entry


def _ref_fields(vm):
    return {key: vm[key] for key in ("id", "name", "node", "sid", "account")}


def _stale(path, aces, existing):
    """(revoke operations, warnings) for the VM SIDs of one folder's ACL whose VM exists nowhere."""
    if _on_share(path):
        return [], [f"'{path}' is on a share, which may serve VMs of other clusters: stale VM ACEs are not purged there"]
    revoke, warnings, existing = [], [], set(existing or [])
    for ace in aces:
        if not is_vm_sid(ace["sid"]) or vm_id_from_sid(ace["sid"]) in existing:
            continue
        stale_id = vm_id_from_sid(ace["sid"])
        if ace["inherited"]:
            warnings.append(f"stale VM account {ace['sid']} ({stale_id}) is inherited from a parent folder; purge it there")
        elif not ace["allow"]:
            warnings.append(f"stale VM account {ace['sid']} ({stale_id}) has a Deny ACE, which is left as it is")
        elif not any(r["sid"] == ace["sid"] for r in revoke):
            revoke.append({"sid": ace["sid"], "vm_id": stale_id})
    return revoke, warnings


def plan(targets, acls):
    """Targets (from :func:`resolve_targets`) and the ACLs host_facts read for them -> the plan.

    ``acls`` is a list of host_facts ``acls`` entries (``{'Path', 'Access', ...}``); the one whose ``Path``
    matches a folder (as Windows compares paths) is used. A folder without one is a :class:`PlanError`.
    """
    by_path = {}
    for acl in acls or []:
        by_path.setdefault(normalize(acl.get("Path", "")), acl)
    folders = [_folder_plan(folder, by_path.get(normalize(folder["path"])), targets["purge_stale"],
                            targets["existing_vm_ids"]) for folder in targets["folders"]]
    operations = [{"path": f["path"], "grant": [{k: g[k] for k in ("sid", "rights", "inheritance", "propagation")}
                                                for g in f["grant"]],
                   "revoke": [{"sid": r["sid"]} for r in f["revoke"]]}
                  for f in folders if f["grant"] or f["revoke"]]
    warnings = list(targets["warnings"]) + [w for f in folders for w in f["warnings"]]
    return {"scope": targets["scope"], "node": targets["node"], "note": targets["note"], "folders": folders,
            "vms": _vm_summary(folders), "operations": operations, "elsewhere": targets["elsewhere"],
            "warnings": list(dict.fromkeys(warnings)), "purge": targets["purge_stale"], "changed": bool(operations)}


def _vm_summary(folders):
    summary = {}
    for folder in folders:
        for vm in folder["vms"]:
            item = summary.setdefault(vm["id"], dict(_ref_fields(vm), folders=[], status="ok"))
            item["folders"].append(folder["path"])
            if vm["status"] == "failed" or (vm["status"] == "changed" and item["status"] == "ok"):
                item["status"] = vm["status"]
    return sorted(summary.values(), key=lambda v: (str(v["name"] or "").upper(), v["id"]))


def module_args(the_plan, options=None):
    """The arguments of ``vm_folder_access.ps1``."""
    return {"folders": the_plan["operations"], "lock_timeout": (options or {}).get("lock_timeout", LOCK_TIMEOUT)}


# --- after the apply ---------------------------------------------------------------------------------------

def merge(the_plan, apply_result=None):
    """The plan, with what ``vm_folder_access.ps1`` reported per folder; the host's read-back ACL wins.

    Every VM of a folder the host wrote is judged again against the ``after`` it read back; a revoked SID
    that still has an explicit Allow ACE fails the folder. Returns ``{'folders', 'vms', 'counts', 'changed',
    'warnings', 'scope', 'node', 'note', 'elsewhere'}``.
    """
    reported = {}
    if apply_result is not None:
        reported = {normalize(item.get("path", "")): item for item in apply_result.get("folders") or []}
    warnings = list(the_plan["warnings"])
    folders = []
    for planned in the_plan["folders"]:
        folder = dict(planned, vms=[dict(vm) for vm in planned["vms"]])
        if apply_result is None or not (planned["grant"] or planned["revoke"]):
            folders.append(folder)
            continue
        item = reported.get(normalize(planned["path"]))
        if item is None:
            folder.update(status="failed", after=planned["before"], sddl_after=planned["sddl_before"],
                          msg="the host reported nothing for this folder")
            for vm in folder["vms"]:
                if vm["status"] == "changed":
                    vm.update(status="failed", msg="the host reported nothing for this folder")
            folders.append(folder)
            continue
        after = item.get("after") if isinstance(item.get("after"), list) else planned["before"]
        folder["after"] = after
        host_status = item.get("status") if item.get("status") in STATUSES else "failed"
        problems = []
        try:
            folder["sddl_after"] = [sddl(a) for a in after]
            for vm in folder["vms"]:
                if vm["status"] == "failed":
                    problems.append(f"{vm['name'] or vm['id']}: {vm['msg']}")
                    continue
                verdict = judge(after, vm["sid"])
                if verdict["state"] == "ok":
                    if vm["status"] == "changed" and host_status == "ok":
                        vm["status"] = "ok"  # already granted when the host looked (another node got there first)
                else:
                    reason = item.get("error") or f"not granted after the write: {verdict['reason']}"
                    vm.update(status="failed", msg=reason)
                    problems.append(f"{vm['name'] or vm['id']}: {reason}")
            still = [r["sid"] for r in planned["revoke"]
                     if any(a["sid"] == r["sid"] and a["allow"] and not a["inherited"] for a in map(parse_entry, after))]
            if still:
                problems.append(f"still has explicit Allow ACEs for {', '.join(still)}")
        except AclError as err:
            problems.append(f"the ACL the host read back is not understood: {err}")
        if host_status == "failed" or problems:
            folder["status"] = "failed"
            folder["msg"] = "; ".join(dict.fromkeys(([item["error"]] if item.get("error") else []) + problems))
        else:
            folder["status"] = host_status  # ok: another writer had already done it when the host looked
            folder.pop("msg", None)
        folders.append(folder)
    vms = _vm_summary(folders)
    counts = {"folders": len(folders), "vms": len(vms)}
    counts.update({status: sum(1 for f in folders if f["status"] == status) for status in STATUSES})
    return {"folders": folders, "vms": vms, "counts": counts, "changed": counts["changed"] > 0,
            "warnings": list(dict.fromkeys(warnings)), "scope": the_plan["scope"], "node": the_plan["node"],
            "note": the_plan["note"], "elsewhere": the_plan["elsewhere"]}


def diff(folders):
    """``{'before': text, 'after': text}`` for ``--diff``: each folder whose ACL changes (or would), one line
    per ACE in order, as SDDL and in words."""
    before, after = [], []
    for folder in folders:
        if folder["before"] == folder["after"]:
            continue
        before.append(folder["path"])
        after.append(folder["path"])
        before.extend("  " + _line(entry) for entry in folder["before"])
        after.extend("  " + _line(entry) for entry in folder["after"])
    return {"before": "\n".join(before) + ("\n" if before else ""), "after": "\n".join(after) + ("\n" if after else "")}
