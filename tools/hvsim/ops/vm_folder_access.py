"""plugins/modules/vm_folder_access.ps1 in Python: grant VM accounts Full Control with object inheritance on
folders (and revoke stale VM accounts), as intent re-applied to the ACL as the host finds it, under a lock
file, read back and verified, retried after a lost update (docs/windows-contract.md, vm_folder_access).

Windows behaviour modelled here, with its source:

- A DACL is a list of ACEs in order; the order matters (the first ACE that decides an access wins) and is
  kept as written. Explicit ACEs precede inherited ones in canonical order ("Order of ACEs in a DACL",
  https://learn.microsoft.com/windows/win32/secauthz/order-of-aces-in-a-dacl), so a new explicit ACE goes
  after the explicit ACEs, before the first inherited one (:func:`hvsim.world.canonical_insert_index`).
  Rights are an access mask printed as ``FileSystemRights.ToString()`` (:func:`hvsim.world.rights_text`);
  inheritance and propagation flags as their enumerations print them.
- ACEs name SIDs. The SID of a VM account works on every node, its name only where the VM is registered
  (:class:`hvsim.world.Resolver`), so the module grants by SID and reports names as that node resolves them.
- Writing the DACL replaces it as a whole (``SetAccessControl`` with ``AccessControlSections.Access``;
  SetNamedSecurityInfo, https://learn.microsoft.com/windows/win32/api/aclapi/nf-aclapi-setnamedsecurityinfow).
  Two writers that each read, change and write lose one of the changes: the last write wins. The module
  therefore takes a lock file in the folder (``CreateNew``: creating a file that exists fails, so one writer
  at a time holds it, also across nodes of a CSV or clients of a share) and, after writing, reads the ACL
  back and goes round again when its change was lost (a writer that does not take the lock).
- Faults, each a failure of that folder only, the other folders go on: ``folders[].lock_held`` (another
  writer holds the lock file all along: the lock times out after ``lock_timeout`` seconds, virtual time),
  ``folders[].write_denied`` (the connecting account may read the ACL but not change it:
  ``UnauthorizedAccessException``, "Attempted to perform an unauthorized operation."),
  ``faults.vanishing_folders`` (the folder was removed after the gather: ``Get-Item`` does not find it) and
  ``faults.acl_writers`` (another program read the ACL when this module did and writes it, with its own ACE
  added, right after this module's write, ``times`` times per module run: a lost update).
"""
from hvsim import world
from hvsim.ops import CmdletError, ModuleFail, operation

ATTEMPTS = 3
MAX_LOCK_TIMEOUT = 86400
OTHER_WRITER_RIGHTS = "Modify, Synchronize"

SPEC = {  # mirrors the $spec of plugins/modules/vm_folder_access.ps1
    "options": {
        "folders": {
            "type": "list", "elements": "dict", "required": True,
            "options": {
                "path": {"type": "str", "required": True},
                "grant": {
                    "type": "list", "elements": "dict", "default": [],
                    "options": {
                        "sid": {"type": "str", "required": True},
                        "rights": {"type": "str", "default": "FullControl", "choices": ["FullControl"]},
                        "inheritance": {"type": "str", "default": "ObjectInherit", "choices": ["ObjectInherit"]},
                        "propagation": {"type": "str", "default": "None", "choices": ["None"]},
                    },
                },
                "revoke": {
                    "type": "list", "elements": "dict", "default": [],
                    "options": {"sid": {"type": "str", "required": True}},
                },
            },
        },
        "lock_timeout": {"type": "int", "default": 60},
    },
    "supports_check_mode": True,
}
# the cmdlets of plugins/modules/vm_folder_access.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = ("Microsoft.PowerShell.Management\\Get-Item",)


class FolderError(Exception):
    """One folder's failure: ``str()`` is its ``error``."""


def _check_arguments(params):
    """What the .ps1 checks before it changes anything (a failure of the whole module, nothing changed)."""
    timeout = params["lock_timeout"]
    if timeout < 0 or timeout > MAX_LOCK_TIMEOUT:
        raise ModuleFail(f"vm_folder_access: lock_timeout {timeout} is out of range; give 0 to {MAX_LOCK_TIMEOUT} seconds")
    for index, folder in enumerate(params["folders"]):
        where = f"vm_folder_access: folders[{index}]"
        if not world.is_absolute_windows_path(folder["path"]):
            raise ModuleFail(f"{where}.path '{folder['path']}' is not an absolute path")
        for number, grant in enumerate(folder["grant"]):
            if not world.is_sid(grant["sid"]):
                raise ModuleFail(f"{where}.grant[{number}].sid '{grant['sid']}' is not a SID")
        granted = {grant["sid"].strip().upper() for grant in folder["grant"]}
        for number, revoke in enumerate(folder["revoke"]):
            if world.vm_id_of_sid(revoke["sid"]) is None:
                raise ModuleFail(f"{where}.revoke[{number}].sid '{revoke['sid']}' is not the SID of a VM account "
                                 "(S-1-5-83-1- and four numbers); only those are revoked")
            if revoke["sid"].strip().upper() in granted:
                raise ModuleFail(f"{where}.revoke[{number}].sid '{revoke['sid']}' is granted too; a SID is either "
                                 "granted or revoked")


def _counts(ace, sid):
    """An ACE that gives ``sid`` what KB 4230569's ``(OI)F`` gives: explicit, Allow, Full Control, object
    inheritance, no propagation flag."""
    return (ace["sid"] == sid and ace["allow"] and not ace["inherited"]
            and ace["mask"] & world.FULL_CONTROL == world.FULL_CONTROL
            and ace["inheritance"] & world.INHERITANCE_FLAGS["ObjectInherit"] and ace["propagation"] == 0)


def _apply(path, access, folder):
    """Step 4 of the contract: the intent applied to the ACL as read. Returns ``(new entries, done, kept)``:
    ``kept`` are the ACEs read that are neither revoked nor upgraded (they must survive the write, in order)."""
    try:
        aces = [world.read_ace(entry) for entry in access]
    except world.WorldError as err:
        raise FolderError(f"reading the ACL of '{path}' failed: an entry is not understood, so it is left as it is: "
                          f"{err}") from None
    entries = [dict(entry) for entry in access]
    origin = list(range(len(entries)))  # the index each entry had in the ACL read; None for a new one
    done = {"granted": [], "upgraded": [], "revoked": [], "denied": []}
    for revoke in folder["revoke"]:
        sid = revoke["sid"].strip().upper()
        keep = [i for i, ace in enumerate(aces) if not (ace["sid"] == sid and ace["allow"] and not ace["inherited"])]
        if len(keep) != len(aces) and sid not in done["revoked"]:
            done["revoked"].append(sid)
        entries, aces, origin = [entries[i] for i in keep], [aces[i] for i in keep], [origin[i] for i in keep]
    upgraded = set()
    for grant in folder["grant"]:
        sid = grant["sid"].strip().upper()
        if any(ace["sid"] == sid and not ace["allow"] and not ace["inherited"] for ace in aces):
            done["denied"].append(sid)
            continue
        if any(_counts(ace, sid) for ace in aces):
            continue
        index = next((i for i, ace in enumerate(aces) if ace["sid"] == sid and ace["allow"] and not ace["inherited"]), None)
        if index is not None:
            aces[index] = dict(aces[index], mask=aces[index]["mask"] | world.FULL_CONTROL, propagation=0,
                               inheritance=aces[index]["inheritance"] | world.INHERITANCE_FLAGS["ObjectInherit"])
            entries[index] = world.model_ace(aces[index])
            upgraded.add(origin[index])
            done["upgraded"].append(sid)
            continue
        new = {"sid": sid, "mask": world.parse_rights(grant["rights"]), "allow": True,
               "inheritance": world.parse_flags(grant["inheritance"], world.INHERITANCE_FLAGS),
               "propagation": world.parse_flags(grant["propagation"], world.PROPAGATION_FLAGS), "inherited": False}
        index = world.canonical_insert_index(entries)
        entries.insert(index, world.model_ace(new))
        aces.insert(index, new)
        origin.insert(index, None)
        done["granted"].append(sid)
    kept = [ace for ace, was in zip(aces, origin) if was is not None and was not in upgraded]
    return entries, done, kept


def _unchanged(before, after):
    return [world.read_ace(a) for a in before] == [world.read_ace(a) for a in after]


def _verify(after, done, kept):
    """Step 5's verification of the ACL read back: what is missing (empty: the write took)."""
    aces = [world.read_ace(entry) for entry in after]
    missing = [f"{sid} has no explicit Allow ACE with Full Control and object inheritance"
               for sid in done["granted"] + done["upgraded"] if not any(_counts(ace, sid) for ace in aces)]
    missing += [f"{sid} still has an explicit Allow ACE" for sid in done["revoked"]
                if any(ace["sid"] == sid and ace["allow"] and not ace["inherited"] for ace in aces)]
    position = 0
    for ace in aces:  # the ACEs read before the write, still there in the same relative order
        if position < len(kept) and ace == kept[position]:
            position += 1
    if position < len(kept):
        missing.append(f"the ACE of {kept[position]['sid']} read before the write is gone or out of place")
    return missing


def _other_writer(ctx, spec, path, read):
    """``faults.acl_writers``: another program read the ACL when this module did (``read``) and writes it with
    its own ACE added right after this module's write, undoing it (a lost update)."""
    for index, entry in enumerate((ctx.data.get("faults") or {}).get("acl_writers") or []):
        if not world.paths_equal(entry["path"], path):
            continue
        if entry.get("node") and str(entry["node"]).lower() != str(ctx.node).lower():
            continue
        key = ("acl_writers", index)
        if ctx.fault_hits.get(key, 0) >= int(entry.get("times", 1)):
            continue
        ctx.fault_hits[key] = ctx.fault_hits.get(key, 0) + 1
        theirs = [dict(ace) for ace in read]
        ace = {"sid": str(entry["sid"]).upper(), "rights": entry.get("rights", OTHER_WRITER_RIGHTS), "type": "Allow",
               "inheritance": "ContainerInherit, ObjectInherit", "propagation": "None", "inherited": False}
        if not any(world.same_ace(ace, other) for other in theirs):  # as icacls /grant: not twice
            theirs.insert(world.canonical_insert_index(theirs), ace)
        spec["access"] = theirs


def _find(ctx, node_name, path):
    """Step 1, ``Get-Item -LiteralPath``: the folder's model entry, or FolderError."""
    vanishing = (ctx.data.get("faults") or {}).get("vanishing_folders") or []
    if any(world.paths_equal(path, gone) for gone in vanishing):
        found = world.find_folder(ctx.data, node_name, path)
        if found is not None:  # removed since the gather
            del ctx.data["folders"][found[0]]
            ctx.mark_changed()
    try:
        ctx.cmdlet("Get-Item")
    except CmdletError as err:
        raise FolderError(f"reading '{path}' failed: {err}") from None
    spec, problem = world.read_folder(ctx.data, node_name, path)
    if problem:
        raise FolderError(f"reading '{path}' failed: {problem[1]}")
    return spec


def _one_folder(ctx, node_name, folder, item, timeout, render):
    path = folder["path"]
    spec = _find(ctx, node_name, path)
    read = list(spec.get("access") or [])
    item["before"] = render(read)
    item["after"] = item["before"]
    if ctx.check_mode:
        new, done, _ = _apply(path, read, folder)
        item.update(done, attempts=1, after=render(new))
        if not _unchanged(read, new):
            item["status"] = "changed"
            ctx.result["changed"] = True
        return
    if spec.get("lock_held"):
        lock = path.rstrip("\\/") + "\\" + world.ACL_LOCK_NAME
        raise FolderError(f"locking '{path}' failed: the lock file '{lock}' was held by another writer for {timeout} s "
                          "(lock_timeout); if no vm_folder_access run is under way, delete it")
    wrote, missing = False, []
    for attempt in range(1, ATTEMPTS + 1):
        item["attempts"] = attempt
        read = list(spec.get("access") or [])
        new, done, kept = _apply(path, read, folder)
        item.update(done)
        if _unchanged(read, new):
            item["after"] = render(read)
            item["status"] = "changed" if wrote else "ok"
            return
        if spec.get("write_denied"):
            raise FolderError(f"writing the ACL of '{path}' failed: {world.UNAUTHORIZED}")
        spec["access"] = [dict(entry) for entry in new]
        ctx.mark_changed()
        ctx.result["changed"] = wrote = True
        _other_writer(ctx, spec, path, read)
        after = list(spec.get("access") or [])
        item["after"] = render(after)
        missing = _verify(after, done, kept)
        if not missing:
            item["status"] = "changed"
            return
    raise FolderError(f"the ACL of '{path}' lost this module's change {ATTEMPTS} times (another program wrote it at the "
                      f"same time): {'; '.join(missing)}")


@operation("vm_folder_access", SPEC)
def vm_folder_access(ctx, params):
    result = ctx.result
    result["changed"] = False
    node_name = world.find_node(ctx.data, ctx.node)["name"].upper()
    _check_arguments(params)
    resolver = world.Resolver(ctx.data, node_name)

    def render(access):
        return [world.access_rule(resolver, ace) for ace in access]

    result["folders"] = []
    for folder in params["folders"]:
        item = {"path": folder["path"], "status": "ok", "before": [], "after": [], "granted": [], "upgraded": [],
                "revoked": [], "denied": [], "attempts": 0}
        result["folders"].append(item)
        try:
            _one_folder(ctx, node_name, folder, item, params["lock_timeout"], render)
        except FolderError as err:
            item.update(status="failed", error=str(err))
    return result
