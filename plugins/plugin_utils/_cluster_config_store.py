"""Planner of ``hyperv.backup.cluster_config_store``: whether the cluster's ``ConfigStoreRootPath`` must be
set, from one node's facts (``host_facts`` with the ``cluster`` subset). Plain functions over plain data.

``ConfigStoreRootPath`` is a private parameter of the cluster resource of type *Virtual Machine Cluster WMI*
(host_facts finds it by its type and reports ``cluster.Parameters.ConfigStoreRootPath``: ``''`` when unset,
``None`` when there is no such resource). It is where Hyper-V keeps the VM groups (Hyper-V collections) that
VHD Set recovery checkpoints use, so it belongs on a Cluster Shared Volume.

Windows refuses to change it once it has a value ("The request is not supported", Microsoft KB 4488568, "Can't
change the ConfigStoreRootPath value of a Hyper-V cluster"; editing the cluster registry is not supported
either). So:

- unset (``''``): it is set, ``changed``; the folder is created first when it is missing (see below);
- the same folder (compared without regard to case, separators normalized): ``ok``;
- another folder: ``conflict``. Nothing is sent. By default (``on_conflict: warn``) the task is not failed but
  warns, naming both values: a nightly converge run cannot change the value either, and failing it every
  night would only hide other failures; the value that is set serves the VM groups as well (it is reported
  too when it is not on a CSV of the cluster). ``on_conflict: fail`` fails the task instead, for a playbook
  that must prove the cluster is exactly as declared.

The folder: a ``ConfigStoreRootPath`` that names a folder that does not exist breaks every live migration of
the cluster's VMs (Hyper-V-High-Availability event 21502, "Failed to verify collection registry ... The system
cannot find the file specified (0x80070002)", as reported in the field) and, the value being fixed once set,
cannot be corrected. Microsoft does not document whether ``Set-ClusterParameter`` checks it, so the strictest
case holds: the folder must exist before the value is set. The module creates it (``create_folder``, the
default) or, with ``create_folder: false``, fails without setting anything when it is missing.

The path is checked before anything is read (:func:`check_options`): a string, no control characters, an
absolute local path (``C:\\...``), no ``.`` or ``..`` segments, none of ``<>"|?*`` nor a second ``:``, no name
ending in a space or a dot (Windows would silently drop them, and the value could then never match the folder).
After the read (:func:`plan`): the node must be in a failover cluster, the resource must exist, the path must
be inside a CSV of the cluster (its ``Path``, ``C:\\ClusterStorage\\VolumeN``, or a folder below it) and that
CSV must be Online.

A plan is ``{'status', 'before', 'after', 'path', 'shared_volume', 'operation', 'warnings'}``: ``status``
``ok``, ``changed`` or ``conflict``; ``before`` / ``after`` are ``{'ConfigStoreRootPath': value}``;
``operation`` is the arguments of ``cluster_config_store.ps1`` (``{'path', 'create_folder'}``) or None.
"""
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import control_character
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type, shown
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError
from ansible_collections.hyperv.backup.plugins.plugin_utils._windows_path import is_under, normalize

RESOURCE_TYPE = "Virtual Machine Cluster WMI"
ON_CONFLICT = ("warn", "fail")
STATUSES = ("ok", "changed", "conflict", "failed")
_INVALID_CHARS = set('<>"|?*')

MISSING_RESOURCE = (
    f"the failover cluster {{cluster}} has no resource of type '{RESOURCE_TYPE}', which holds "
    "ConfigStoreRootPath, so nothing was changed. Failover clusters of Windows Server 2016 and later whose "
    "nodes run Hyper-V have it in the core cluster group (a cluster upgraded from Windows Server 2012 R2 once "
    "Update-ClusterFunctionalLevel has run); check with Get-ClusterResource | Where-Object "
    f"{{{{ $_.ResourceType.Name -eq '{RESOURCE_TYPE}' }}}}"
)


def display_path(path):
    """A Windows path as it is set: backslashes, no doubled or trailing separator, case kept
    (``c:/ClusterStorage//Volume1/Store/`` -> ``c:\\ClusterStorage\\Volume1\\Store``)."""
    # Only ASCII spaces around the path are a typo to drop: a no-break space (U+00A0) is a valid character of
    # a Windows folder name, so str.strip(), which removes every Unicode space, is not used.
    text = str(path).strip(" ").replace("/", "\\")
    drive, body = text[:2], text[2:]
    while "\\\\" in body:
        body = body.replace("\\\\", "\\")
    body = body.rstrip("\\") or "\\"
    return drive + body


def same_path(a, b):
    """Whether two Windows paths name the same folder (case-insensitive, separators normalized)."""
    return normalize(display_path(a)) == normalize(display_path(b))


def check_path(path):
    """Validate ``path`` as a folder to set; returns it in :func:`display_path` form or raises
    :class:`PlanError` naming the value."""
    if not isinstance(path, str):
        raise PlanError(f"path: {shown(path)} is {describe_type(path)}, not a string")
    if not path.strip(" "):
        raise PlanError("path: an empty string is not a folder; give the folder on a Cluster Shared Volume, "
                        "such as C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore")
    bad = control_character(path)
    if bad is not None:
        raise PlanError(f"path: {path!r} contains the control character U+{ord(bad):04X}; a Windows folder name "
                        "cannot contain control characters")
    text = path.strip(" ").replace("/", "\\")
    if len(text) < 3 or not text[0].isascii() or not text[0].isalpha() or text[1] != ":" or text[2] != "\\":
        raise PlanError(f"path: '{path}' is not an absolute path on a drive (such as "
                        "C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore); ConfigStoreRootPath is a folder on a "
                        "Cluster Shared Volume, which every node mounts under C:\\ClusterStorage")
    parts = [part for part in text[3:].split("\\") if part]
    for part in parts:
        if part in (".", ".."):
            raise PlanError(f"path: '{path}' has a '{part}' segment; give the folder itself, without . or ..")
        invalid = sorted(_INVALID_CHARS & set(part)) or ([":"] if ":" in part else [])
        if invalid:
            raise PlanError(f"path: '{path}' contains '{invalid[0]}', which Windows does not allow in a folder name")
        if part.endswith((" ", ".")):
            raise PlanError(f"path: '{path}' has a folder name ending in a space or a dot ('{part}'), which "
                            "Windows drops, so the folder would not be the one named")
    return display_path(text)


def check_options(options):
    """Validate what can be validated before reading the host; returns the path as it will be set."""
    if options.get("on_conflict", "warn") not in ON_CONFLICT:
        raise PlanError(f"on_conflict: unknown value {shown(options.get('on_conflict'))}; choose from "
                        f"{', '.join(ON_CONFLICT)}")
    return check_path(options.get("path"))


def _shared_volume(cluster, path):
    """The CSV (facts dict) whose ``Path`` holds ``path``: the longest match, or None."""
    best = None
    for volume in cluster.get("SharedVolumes") or []:
        volume_path = volume.get("Path")
        if not volume_path or not is_under(path, volume_path):
            continue
        if best is None or len(normalize(volume_path)) > len(normalize(best["Path"])):
            best = volume
    return best


def _volume_list(cluster):
    paths = [str(v.get("Path")) for v in cluster.get("SharedVolumes") or [] if v.get("Path")]
    return ", ".join(paths) if paths else "none"


def conflict_message(cluster_name, current, wanted, current_volume):
    """What a ``conflict`` says: the value that is set, what was asked, why it stays."""
    message = (f"ConfigStoreRootPath of the failover cluster {cluster_name} is already '{current}'; Windows "
               f"does not allow changing it once set ('The request is not supported', Microsoft KB 4488568), so "
               f"'{wanted}' was not set and the value was left as it is. Give path: '{current}' to keep this task "
               "in step with the cluster")
    if current_volume is None:
        message += (f". Note that '{current}' is not on a Cluster Shared Volume of {cluster_name}: VM groups and "
                    "the VHD Set recovery checkpoints that need them fail while it is not reachable from every node")
    return message


def plan(facts, options):
    """``options``: ``path``, ``create_folder`` (default True), ``on_conflict`` (default ``warn``). Raises
    :class:`PlanError` naming the problem: not clustered, no resource, the path not on an Online CSV, or a
    conflict with ``on_conflict: fail``."""
    path = check_options(options)
    node_name = (facts.get("node") or {}).get("Name", "this node")
    cluster = facts.get("cluster")
    if not isinstance(cluster, dict):
        raise PlanError(f"{node_name} is not a node of a running failover cluster (host_facts read no cluster "
                        "there: the node is not clustered, or its cluster service is stopped, as the task's "
                        "warnings say), so ConfigStoreRootPath cannot be set from it; nothing was changed")
    cluster_name = cluster.get("Name") or "of this node"
    current = (cluster.get("Parameters") or {}).get("ConfigStoreRootPath")
    if current is None:
        raise PlanError(MISSING_RESOURCE.format(cluster=cluster_name))
    volume = _shared_volume(cluster, path)
    if volume is None:
        raise PlanError(f"path: '{path}' is not on a Cluster Shared Volume of {cluster_name} (its CSVs: "
                        f"{_volume_list(cluster)}); ConfigStoreRootPath must be a folder every node reaches at "
                        "the same path, so nothing was changed")
    if str(volume.get("State", "Online")) != "Online":
        raise PlanError(f"path: '{path}' is on the Cluster Shared Volume '{volume.get('Name')}' "
                        f"({volume.get('Path')}), which is {volume.get('State')}, not Online; bring it online "
                        "first, nothing was changed")
    shared_volume = {key: volume.get(key) for key in ("Name", "Path", "OwnerNode", "State")}
    before = {"ConfigStoreRootPath": current}
    result = {"path": path, "shared_volume": shared_volume, "before": before, "warnings": [], "operation": None}
    if current == "":
        result.update(status="changed", after={"ConfigStoreRootPath": path},
                      operation={"path": path, "create_folder": bool(options.get("create_folder", True))})
    elif same_path(current, path):
        result.update(status="ok", after=dict(before))
    else:
        message = conflict_message(cluster_name, current, path, _shared_volume(cluster, current))
        if options.get("on_conflict", "warn") == "fail":
            raise PlanError(f"on_conflict: fail: {message}")
        result.update(status="conflict", after=dict(before), warnings=[message])
    return result


def merge(the_plan, apply_result=None):
    """The task's result: the plan, with what ``cluster_config_store.ps1`` reported when it ran.

    Returns ``{'changed', 'status', 'before', 'after', 'path', 'shared_volume', 'warnings', 'msg'?,
    'folder_created'?}``. The host's ``after`` is what it read back; a module that failed as a whole leaves
    ``after`` as ``before`` (nothing is known to have changed) unless it reported one."""
    final = {key: the_plan[key] for key in ("status", "path", "shared_volume")}
    final["before"] = dict(the_plan["before"])
    final["after"] = dict(the_plan["after"])
    final["warnings"] = list(the_plan.get("warnings") or [])
    if apply_result is not None:
        reported_after = apply_result.get("after")
        if apply_result.get("failed"):
            final["status"] = "failed"
            final["after"] = dict(reported_after) if isinstance(reported_after, dict) else dict(final["before"])
            final["msg"] = apply_result.get("msg") or "no message"
        else:
            status = apply_result.get("status")
            final["status"] = status if status in STATUSES else "failed"
            # The host read the value again before setting it: what it found is this task's "before" (set
            # meanwhile by another node or run, it is no longer the '' the plan saw).
            for key in ("before", "after"):
                reported = apply_result.get(key)
                if isinstance(reported, dict):
                    final[key] = {"ConfigStoreRootPath": reported.get("ConfigStoreRootPath")}
            if final["status"] == "conflict":
                current = final["after"]["ConfigStoreRootPath"]
                final["warnings"].append(apply_result.get("msg") or f"ConfigStoreRootPath is already '{current}'")
            elif final["status"] == "failed":
                final["msg"] = apply_result.get("msg") or "the host reported no status"
        if "folder_created" in apply_result:
            final["folder_created"] = bool(apply_result["folder_created"])
    final["changed"] = final["status"] == "changed" or bool(final.get("folder_created"))
    return final


def diff(final):
    """``--diff``: the value before and after (empty when nothing changes)."""
    if final["before"] == final["after"]:
        return {"before": {}, "after": {}}
    return {"before": dict(final["before"]), "after": dict(final["after"])}
