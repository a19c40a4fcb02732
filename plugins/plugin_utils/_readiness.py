"""Judge a cluster view against the backup baseline: what would make a host-level backup fail, why, how to
fix it, and whether the event logs show it already happened.

Plain data in, plain data out. :func:`evaluate` ``(view, policy, now)`` returns ``{findings, checked}``:
the findings in the report's finding shape (``_report``'s docstring: ``check``, ``code``, ``severity``,
``object``, ``target``, ``node``, ``message``, ``impact``, ``errors``, ``fix`` {text, module, role, command},
``evidence``), most severe first, and ``checked``, per check, the objects it evaluated (an object with no
finding passed). The checks, the errors they lead to and their sources are listed in
docs/backup-baseline.md; the events and how they become evidence in ``_events``.

The policy's ``checkpoint_types`` are the compliant checkpoint types of ``_checkpoint_policy`` (the first is
what a non-compliant VM gets), so the report accepts exactly what ``hyperv.backup.checkpoint_type`` leaves
alone; the VHD Set folder check uses ``_folder_access.judge``, so a finding and ``hyperv.backup.vm_folder_access``
agree on what counts; a VM's CSV is the one ``_csv_placement.home_volume`` gives it, as the CSV placement
planner decides. :func:`validate_policy` checks a policy before it is used and names any bad value.

Commands in fixes are PowerShell a user can paste: names are single-quoted with quotes doubled
(:func:`ps_quote`), so a VM named ``O'Brien $(x)`` is data, never code; VMs are selected by ID
(``Get-VM -Id '<id>'``) because names need not be unique.
"""
import re
from datetime import datetime, timedelta, timezone
from numbers import Real

from ansible_collections.hyperv.backup.plugins.plugin_utils import _events
from ansible_collections.hyperv.backup.plugins.plugin_utils._checkpoint_policy import (
    DEFAULT_TARGET,
    MIN_VERSION_TEXT,
    PRODUCTION_FAMILY,
    PRODUCTION_MIN_VERSION,
    CheckpointPolicyError,
    default_compliant_types,
    parse_version,
    remediation_args,
    type_list,
    version_too_old,
)
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import volume_finder
from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_placement import _role_index, home_volume
from ansible_collections.hyperv.backup.plugins.plugin_utils._folder_access import AclError, judge
from ansible_collections.hyperv.backup.plugins.plugin_utils._report import evidence_text
from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import vm_sid
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type, shown
from ansible_collections.hyperv.backup.plugins.plugin_utils._vss import parse_vss_writers
from ansible_collections.hyperv.backup.plugins.plugin_utils._vss_access_control import fold
from ansible_collections.hyperv.backup.plugins.plugin_utils._windows_path import is_under, normalize

DEFAULT_POLICY = {
    "checkpoint_types": default_compliant_types(DEFAULT_TARGET),
    "automatic_checkpoints": False,
    "scsi_controllers": 1,
    "vss_accounts": [],
    "recovery_checkpoint_max_age_hours": 24,
    "vm_on_csv_owner": True,
    "events_max_age_hours": None,
}

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
MAX_SCSI_CONTROLLERS = 4
# Resilient change tracking, which backup products use to read only what changed since the last backup,
# needs VM configuration version 8.0 or later (Windows Server 2016); older VMs are read whole every time.
RCT_MIN_VERSION = (8, 0)
HYPERV_WRITER_ID = "{66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}"
# The characters PowerShell takes for a single quote (ASCII and typographic); doubled inside '...'.
_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"

# The errors findings lead to, as ``errors`` entries ({source, id}); see ``_events``.
VMMS_10102 = {"source": "Hyper-V-VMMS", "id": 10102}
VMMS_10103 = {"source": "Hyper-V-VMMS", "id": 10103}
VMMS_19100 = {"source": "Hyper-V-VMMS", "id": 19100}
WORKER_18590 = {"source": "Hyper-V-Worker", "id": 18590}
VSS_8193 = {"source": "VSS", "id": 8193}
VSS_8194 = {"source": "VSS", "id": 8194}
VSS_12289 = {"source": "VSS", "id": 12289}
JOB_32768 = {"source": "Hyper-V WMI job", "id": 32768}
JOB_32770 = {"source": "Hyper-V WMI job", "id": 32770}
JOB_32775 = {"source": "Hyper-V WMI job", "id": 32775}
ACCESS_DENIED = {"source": "HRESULT", "id": "0x80070005"}
GUEST_WRITER_FAILED = {"source": "HRESULT", "id": "0x800423F4"}


class PolicyError(ValueError):
    """A readiness policy that is not valid; the message names the key, the value and its type."""


def _bad(key, value, wanted):
    return PolicyError(f"policy.{key}: {shown(value)} is {describe_type(value)}; {wanted}")


def _number(value):
    return not isinstance(value, bool) and isinstance(value, Real)


def validate_policy(policy):
    """The full policy (defaults for the keys not given), checked; raises :class:`PolicyError`."""
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise PolicyError(f"policy: {shown(policy)} is {describe_type(policy)}; give a mapping of "
                          f"{', '.join(DEFAULT_POLICY)}")
    unknown = sorted(str(key) for key in policy if key not in DEFAULT_POLICY)
    if unknown:
        raise PolicyError(f"policy: unknown keys {', '.join(unknown)}; known: {', '.join(DEFAULT_POLICY)}")
    merged = {**DEFAULT_POLICY, **policy}
    try:
        merged["checkpoint_types"] = type_list(merged["checkpoint_types"], "policy.checkpoint_types")
    except CheckpointPolicyError as err:
        raise PolicyError(str(err)) from None
    for key in ("automatic_checkpoints", "vm_on_csv_owner"):
        value = merged[key]
        if not isinstance(value, bool) and not (key == "automatic_checkpoints" and value is None):
            raise _bad(key, value, "give true or false" + (" (or null: not checked)" if key == "automatic_checkpoints" else ""))
    value = merged["scsi_controllers"]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SCSI_CONTROLLERS:
        raise _bad("scsi_controllers", value, f"give a whole number from 0 to {MAX_SCSI_CONTROLLERS}")
    value = merged["recovery_checkpoint_max_age_hours"]
    if not _number(value) or value < 0:
        raise _bad("recovery_checkpoint_max_age_hours", value, "give a number of hours, 0 or more")
    value = merged["events_max_age_hours"]
    if value is not None and (not _number(value) or value <= 0):
        raise _bad("events_max_age_hours", value, "give a number of hours above 0 (or null: every event read)")
    accounts = merged["vss_accounts"]
    if isinstance(accounts, str) or not isinstance(accounts, (list, tuple)):
        raise _bad("vss_accounts", accounts, "give a list of accounts, such as ['LAB\\svc-backup']"
                   + (f" (for one account: [{shown(accounts)}])" if isinstance(accounts, str) else ""))
    for account in accounts:
        if not isinstance(account, str) or not account.strip():
            raise PolicyError(f"policy.vss_accounts: the entry {shown(account)} is {describe_type(account)}; "
                              "each entry is an account name such as 'LAB\\svc-backup'")
    merged["vss_accounts"] = list(accounts)
    return merged


def ps_quote(text):
    """``text`` as a PowerShell single-quoted string (nothing in it is expanded)."""
    quoted = "".join(char * 2 if char in _PS_SINGLE_QUOTES else char for char in str(text))
    return f"'{quoted}'"


# --- building findings --------------------------------------------------------------------------------

def _fix(text, module=None, role=None, command=None):
    return {"text": text, "module": module, "role": role, "command": command}


def _vm_object(vm):
    return {"kind": "vm", "name": vm["Name"], "id": vm.get("Id"), "node": vm.get("Node")}


def _object(kind, name, node=None):
    return {"kind": kind, "name": name, "id": None, "node": node}


def _get_vm(vm):
    return f"Get-VM -Id {ps_quote(vm.get('Id'))}"


class _Findings:
    """Findings and the objects each check evaluated, as the checks add them."""

    def __init__(self):
        self.findings = []
        self._checked = {}  # check -> {name: None}, in the order met
        self.scopes = {}  # id(finding) -> the VM IDs whose events concern it (an object that is not a VM)

    def check(self, check, name):
        self._checked.setdefault(check, {})[name] = None

    def evaluated(self, check, name):
        return name in self._checked.get(check, {})

    @property
    def checked(self):
        return {check: list(names) for check, names in self._checked.items()}

    def add(self, check, code, severity, obj, message, impact, errors=(), fix=None, scope=None):
        self.check(check, obj["name"])
        self.findings.append({
            "check": check, "code": f"{check}.{code}", "severity": severity, "object": obj,
            "target": obj["name"], "node": obj.get("node"), "message": message, "impact": impact,
            "errors": [dict(error) for error in errors], "fix": fix or _fix(""), "evidence": None,
        })
        if scope is not None:
            self.scopes[id(self.findings[-1])] = set(scope)


# --- the VM checks ------------------------------------------------------------------------------------

def _vm_facts(out, vm):
    # host_facts reports null for what it could not read on this VM (a critical state, a property that
    # threw): such a setting is unknown, not wrong; this says so instead of a false finding per check.
    out.check("vm_facts", vm["Name"])
    unread = [key for key in ("State", "Version", "CheckpointType", "ScsiControllers", "HardDisks", "Checkpoints")
              if key in vm and vm[key] is None]
    if unread:
        out.add("vm_facts", "unread", "warning", _vm_object(vm),
                f"the host could not read {', '.join(unread)} of this VM (state {vm.get('State')}): the checks that "
                "need them were skipped for it",
                "what could not be read is not judged, so a problem there is not reported",
                fix=_fix("look at the VM in Hyper-V Manager (a critical state needs its storage back), then run again"))


def _checkpoint_type(out, vm, policy):
    current = vm.get("CheckpointType")
    if current is None:
        return
    types = policy["checkpoint_types"]
    out.check("checkpoint_type", vm["Name"])
    if current in types:
        return
    args = remediation_args(types)
    text = f"hyperv.backup.checkpoint_type with {args}"
    command = None
    if version_too_old(types[0], vm.get("Version")):
        command = f"{_get_vm(vm)} | Update-VMVersion"
        text = (f"on {vm.get('Node')}, with the VM off: {command} (configuration version {vm.get('Version')} is too old "
                f"for {types[0]} checkpoints, which need {MIN_VERSION_TEXT}; it cannot be undone), then {text}")
    out.add("checkpoint_type", "not_compliant", "error", _vm_object(vm),
            f"checkpoint type is {current}, not {' or '.join(types)}: backups are not application consistent",
            "the backup takes a saved-state (Standard) checkpoint, or none, instead of a production (VSS) one: the "
            "copy is not application consistent",
            fix=_fix(text, "hyperv.backup.checkpoint_type", "hyperv.backup.checkpoint_policy", command))


def _automatic_checkpoints(out, vm, policy):
    setting = vm.get("AutomaticCheckpointsEnabled")
    if policy["automatic_checkpoints"] is not False or setting is None:
        return  # not asked for, or a host without automatic checkpoints (Windows Server 2016)
    out.check("automatic_checkpoints", vm["Name"])
    if setting:
        out.add("automatic_checkpoints", "enabled", "warning", _vm_object(vm),
                "automatic checkpoints are on: every start leaves a checkpoint",
                "the checkpoints grow the AVHDX chain that every backup reads and merges",
                fix=_fix("hyperv.backup.checkpoint_type with automatic_checkpoints=false",
                         "hyperv.backup.checkpoint_type", "hyperv.backup.checkpoint_policy"))


def _scsi_controller(out, vm, policy):
    controllers = vm.get("ScsiControllers")
    if controllers is None:
        return
    out.check("scsi_controller", vm["Name"])
    if len(controllers) < policy["scsi_controllers"]:
        out.add("scsi_controller", "missing", "error", _vm_object(vm),
                f"{len(controllers)} SCSI controllers, {policy['scsi_controllers']} wanted",
                "since Windows Server 2012 R2 the backup hot-adds a recovery disk to the running VM; without a SCSI "
                "controller it cannot, and the VM cannot be backed up while it runs (VMMS event 10103)",
                [VMMS_10103],
                _fix("hyperv.backup.scsi_controller (the VM must be off to add one)",
                     "hyperv.backup.scsi_controller", "hyperv.backup.scsi_controllers"))


def _backup_integration(out, vm):
    backup = vm.get("BackupIntegration")
    if not isinstance(backup, dict):
        return
    out.check("backup_integration", vm["Name"])
    if not backup.get("Enabled"):
        out.add("backup_integration", "disabled", "error", _vm_object(vm),
                "the Backup (volume shadow copy) integration service is off",
                "Hyper-V cannot ask the guest for its shadow copy (the in-guest shadow copy fails, VMMS event 10102): "
                "the backup falls back to a crash-consistent or saved-state copy",
                [VMMS_10102],
                _fix("hyperv.backup.backup_integration", "hyperv.backup.backup_integration"))


def _vm_version(out, vm, policy):
    version = parse_version(vm.get("Version"))
    if version is None:
        return
    out.check("vm_version", vm["Name"])
    command = f"{_get_vm(vm)} | Update-VMVersion"
    text = (f"on {vm.get('Node')}, with the VM off and on a host that runs the new version everywhere it may "
            f"fail over to: {command} (it cannot be undone)")
    fix = _fix(text, command=command)
    shown_version = vm.get("Version")
    if version < PRODUCTION_MIN_VERSION and policy["checkpoint_types"][0] in PRODUCTION_FAMILY:
        out.add("vm_version", "no_production_checkpoints", "error", _vm_object(vm),
                f"configuration version {shown_version} is below {MIN_VERSION_TEXT}: no production checkpoints",
                "the backup cannot take a production (VSS) checkpoint; it takes a saved-state copy, and without "
                "resilient change tracking (version 8.0) it reads the whole disks every time",
                fix=fix)
    elif version < RCT_MIN_VERSION:
        out.add("vm_version", "no_rct", "warning", _vm_object(vm),
                f"configuration version {shown_version} is below 8.0: no resilient change tracking",
                "without resilient change tracking every backup reads the whole virtual disks instead of what changed",
                fix=fix)


def _vm_state(out, vm):
    state = vm.get("State")
    if state is None:
        return
    out.check("vm_state", vm["Name"])
    if str(state).endswith("Critical"):
        out.add("vm_state", "critical", "error", _vm_object(vm),
                f"the VM is {state}: its storage is not accessible",
                "nothing of the VM can be read or copied: its backup fails",
                fix=_fix("bring back the storage that holds the VM's files (the CSV or share), then look at the VM"))
    elif state == "Paused":
        command = f"{_get_vm(vm)} | Resume-VM"
        out.add("vm_state", "paused", "warning", _vm_object(vm), "the VM is Paused",
                "the guest cannot take its own shadow copy: the backup is a saved-state copy, not application consistent",
                fix=_fix(f"on {vm.get('Node')}: {command}", command=command))
    elif state == "Saved":
        command = f"{_get_vm(vm)} | Start-VM"
        out.add("vm_state", "saved", "warning", _vm_object(vm), "the VM is Saved",
                "the backup copies the saved state, not an application-consistent guest; restored, it resumes "
                "from that state",
                fix=_fix(f"start it if it should run (on {vm.get('Node')}: {command}), or leave it out of backup jobs",
                         command=command))


def _recovery_checkpoints(out, vm, policy, now):
    checkpoints = vm.get("Checkpoints")
    if checkpoints is None:
        return
    out.check("recovery_checkpoint", vm["Name"])
    limit = policy["recovery_checkpoint_max_age_hours"]
    stale = []
    for checkpoint in checkpoints:
        created = _events.parse_time(checkpoint.get("CreationTime"))
        if checkpoint.get("SnapshotType") == "Recovery" and created and (now - created).total_seconds() / 3600 > limit:
            stale.append((created, checkpoint))
    if not stale:
        return
    oldest, checkpoint = min(stale, key=lambda item: item[0])
    age_days = (now - oldest).total_seconds() / 86400
    shared = any(disk.get("IsVhdSet") for disk in vm.get("HardDisks") or [])
    command = f"{_get_vm(vm)} | Get-VMSnapshot -SnapshotType Recovery | Remove-VMSnapshot"
    more = f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""
    out.add("recovery_checkpoint", "stale", "warning", _vm_object(vm),
            f"recovery checkpoint {ps_quote(checkpoint.get('Name'))} is {age_days:.0f} days old{more}",
            "a failed backup left it: Hyper-V Manager cannot delete it (KB 3059372) and its AVHDX chain grows"
            + ("; on a guest cluster's VHD Set it never merges while the guest cluster runs (the merge fails with "
               "VMMS event 19100 when the folder's ACL is wrong)" if shared else ""),
            [VMMS_19100],
            _fix(f"on {vm.get('Node')}: {command}", command=command))


def _role_of(roles, vm):
    """The VM's cluster role from ``_role_index`` of the cluster: by VM ID, else by name (roles whose VM ID
    was not read)."""
    by_id, by_name = roles
    return by_id.get(str(vm.get("Id") or "").lower()) or by_name.get(str(vm.get("Name") or "").upper()) or {}


def _pick(vm, role, key):
    return vm[key] if vm.get(key) is not None else role.get(key)


def _placement(out, roles, vm, find, owners):
    """The VM runs on its CSV's owner, and no failback pulls it away from there."""
    if vm.get("IsClustered") is False or vm.get("HardDisks") is None:
        return
    csv = home_volume(vm, find)[0]
    owner = owners.get(csv)
    if csv is None or owner is None:
        return
    out.check("csv_placement", vm["Name"])
    node = vm.get("Node")
    if owner.upper() != str(node).upper():
        command = f"Move-ClusterVirtualMachineRole -VMId {ps_quote(vm.get('Id'))} -Node {ps_quote(owner)} -MigrationType Live"
        out.add("csv_placement", "off_owner", "warning", _vm_object(vm),
                f"runs on {node}, but {owner} owns its CSV, {csv}",
                "the CSV's snapshot is coordinated by its owner node: more hardware VSS snapshots, and failed jobs "
                "with providers and backup products that need a job's VMs on the owner",
                fix=_fix(f"hyperv.backup.csv_placement (or live-migrate it to {owner}: {command})",
                         "hyperv.backup.csv_placement", "hyperv.backup.csv_affinity", command))
    role = _role_of(roles, vm)
    failback = _pick(vm, role, "AutoFailbackType")
    if failback is None:
        return
    out.check("failback", vm["Name"])
    preferred = list(_pick(vm, role, "PreferredOwners") or [])
    if failback == 1 and preferred and str(preferred[0]).upper() != owner.upper():
        name = role.get("Name") or vm["Name"]
        command = f"(Get-ClusterGroup -Name {ps_quote(name)}).AutoFailbackType = 0"
        out.add("failback", "away_from_csv_owner", "warning", _vm_object(vm),
                f"failback is on and its first preferred owner is {preferred[0]}, not {owner}, the owner of {csv}",
                "after a failover the cluster moves the VM back to its preferred owner, off its CSV's owner, and "
                "undoes an alignment",
                fix=_fix(f"turn failback off ({command}) or make {owner} its first preferred owner "
                         f"(Set-ClusterOwnerNode -Group {ps_quote(name)} -Owners {ps_quote(owner)})", command=command))


def _vm_checks(out, view, vm, policy, now, find, owners, roles):
    _vm_facts(out, vm)
    _vm_state(out, vm)
    _checkpoint_type(out, vm, policy)
    _automatic_checkpoints(out, vm, policy)
    _scsi_controller(out, vm, policy)
    _backup_integration(out, vm)
    _vm_version(out, vm, policy)
    _recovery_checkpoints(out, vm, policy, now)
    if policy["vm_on_csv_owner"] and view.get("cluster"):
        _placement(out, roles, vm, find, owners)


# --- the VHD Set folders ------------------------------------------------------------------------------

def _acl(view, folder):
    """The ACL of ``folder`` as some node read it (``acls``, or the ``vhd_set_acls`` subset), or None."""
    for facts in view["nodes"].values():
        for key in ("acls", "vhd_set_acls"):
            for acl in facts.get(key) or []:
                if isinstance(acl, dict) and acl.get("Path") and normalize(acl["Path"]) == normalize(folder):
                    return acl
    return None


def _vhd_set_folders(out, view):
    vms_by_id = {str(vm["Id"]).lower(): vm for vm in view["vms"]}
    for folder in view.get("vhd_set_folders", []):
        path = folder["Path"]
        acl = _acl(view, path)
        guests = [vms_by_id[str(vm_id).lower()] for vm_id in folder["VMIds"] if str(vm_id).lower() in vms_by_id]
        fix = _fix("hyperv.backup.vm_folder_access", "hyperv.backup.vm_folder_access", "hyperv.backup.vhds_permissions")
        for vm in guests:
            obj = _vm_object(vm)
            sid = vm_sid(vm["Id"])
            grant = f"icacls.exe {ps_quote(path)} /grant {ps_quote('*' + sid + ':(OI)F')}"
            if acl is None:
                out.add("vhd_set_acl", "not_read", "info", obj,
                        f"the ACL of {path} was not read, so this check could not judge it",
                        "a missing grant there fails the merge of the recovery checkpoint (VMMS event 19100)",
                        fix=_fix("gather it: hyperv.backup.host_facts with acl_paths (or the vhd_set_acls subset)"))
                continue
            try:
                verdict = judge(acl.get("Access") or [], sid)
            except AclError as err:
                out.add("vhd_set_acl", "not_understood", "warning", obj,
                        f"the ACL of {path} has an entry this check does not understand: {err}",
                        "whether the VM's account has Full Control there is unknown",
                        fix=_fix(f"look at the ACL: icacls.exe {ps_quote(path)}"))
                continue
            out.check("vhd_set_acl", vm["Name"])
            if verdict["state"] == "ok":
                continue
            if verdict["state"] == "denied":
                command = f"icacls.exe {ps_quote(path)} /remove:d {ps_quote('*' + sid)}"
                out.add("vhd_set_acl", "denied", "error", obj,
                        f"{path}: {verdict['reason']}",
                        "the VM's account is denied on the folder of its VHD Set: the merge of the recovery checkpoint "
                        "fails with access denied (0x80070005, VMMS event 19100; KB 4230569)",
                        [VMMS_19100, WORKER_18590, ACCESS_DENIED],
                        _fix(f"remove the Deny entry by hand ({command}), then hyperv.backup.vm_folder_access",
                             command=command))
                continue
            out.add("vhd_set_acl", "missing_full_control", "error", obj,
                    f"no Full Control (OI) for NT VIRTUAL MACHINE\\{str(vm['Id']).upper()} on {path}: {verdict['reason']}",
                    "the merge of the recovery checkpoint runs as the VM's account and fails with access denied "
                    "(0x80070005, VMMS event 19100; KB 4230569)",
                    [VMMS_19100, WORKER_18590, ACCESS_DENIED],
                    _fix(f"{fix['text']} (or {grant})", fix["module"], fix["role"], grant))
        out.check("guest_cluster", path)
        out.add("guest_cluster", "inside_the_guest", "info", _object("folder", path),
                f"shared by {', '.join(vm['Name'] for vm in guests) or 'VMs of other nodes'}: what the host cannot "
                "see must hold inside the guest cluster",
                "the backup of a guest cluster's VHD Set fails when the guest's cluster service is not reachable "
                "(32768), when the VHD Set is a Cluster Shared Volume inside the guest (32770), or when not exactly "
                "one guest node owns the shared disk online (32775)",
                [JOB_32768, JOB_32770, JOB_32775],
                _fix("inside the guest cluster: the cluster service running, the shared disk a clustered disk (not a "
                     "CSV), online on exactly one node"), scope=folder["VMIds"])


# --- the cluster ----------------------------------------------------------------------------------------

def _config_store(out, view):
    cluster = view["cluster"]
    parameters = cluster.get("Parameters")
    if not isinstance(parameters, dict) or "ConfigStoreRootPath" not in parameters:
        return
    name = cluster["Name"]
    out.check("config_store_root_path", name)
    root = parameters["ConfigStoreRootPath"]
    in_use = bool(view.get("vhd_set_folders"))
    obj = _object("cluster", name)
    impact = ("VHD Set collections (guest clusters) cannot take recovery checkpoints: their backups fail with "
              "'Failed to create checkpoint on collection' (32768)")
    if root is None and in_use:
        out.add("config_store_root_path", "no_resource", "error", obj,
                "the cluster has no resource of type 'Virtual Machine Cluster WMI', which holds ConfigStoreRootPath",
                impact, [JOB_32768],
                _fix("look at the cluster's resources (Get-ClusterResource) and its Hyper-V role; "
                     "hyperv.backup.cluster_config_store says what it finds", "hyperv.backup.cluster_config_store"))
    elif root == "" and in_use:
        out.add("config_store_root_path", "unset", "error", obj,
                "ConfigStoreRootPath is not set while guest clusters use VHD Sets", impact, [JOB_32768],
                _fix("hyperv.backup.cluster_config_store with a folder on a CSV (once: Windows refuses to change it "
                     "afterwards)", "hyperv.backup.cluster_config_store"))
    elif root:
        volumes = cluster.get("SharedVolumes") or []
        if not any(volume.get("Path") and is_under(root, volume["Path"]) for volume in volumes):
            out.add("config_store_root_path", "not_on_csv", "warning", obj,
                    f"ConfigStoreRootPath is {root}, which is on no Cluster Shared Volume",
                    "the configuration of VM groups lives there; on a disk only one node sees, the collections of "
                    "guest clusters cannot be checkpointed from the other nodes (32768)", [JOB_32768],
                    _fix("Windows does not change ConfigStoreRootPath once it is set: make sure every node reaches "
                         f"{root}; hyperv.backup.cluster_config_store reports it and leaves it"))


def _balancers(out, view):
    cluster = view["cluster"]
    csv_balancer, mode = cluster.get("CsvBalancer"), cluster.get("AutoBalancerMode")
    if csv_balancer is None and mode is None:
        return  # not reported by these hosts
    name = cluster["Name"]
    out.check("cluster_balancer", name)
    obj = _object("cluster", name)
    if csv_balancer == 1:
        command = "(Get-Cluster).CsvBalancer = 0"
        out.add("cluster_balancer", "csv_balancer", "warning", obj,
                "the CSV balancer is on (CsvBalancer 1): the cluster moves CSV ownership by itself",
                "a CSV that moves takes its VMs off their CSV's owner again and undoes an alignment",
                fix=_fix(f"turn it off if CSV ownership should stay where the VMs are: {command}", command=command))
    if mode in (1, 2):
        level = cluster.get("AutoBalancerLevel")
        command = "(Get-Cluster).AutoBalancerMode = 0"
        when = "when a node joins and every 30 minutes" if mode == 2 else "when a node joins"
        out.add("cluster_balancer", "vm_load_balancing", "warning" if mode == 2 else "info", obj,
                f"VM load balancing is on (AutoBalancerMode {mode}{f', level {level}' if level else ''}): it "
                f"live-migrates VMs {when}",
                "a VM the balancer moves leaves its CSV's owner and undoes an alignment",
                fix=_fix(f"turn it off if backups need VMs on their CSV's owner: {command}", command=command))


def _nodes(out, view):
    cluster = view["cluster"]
    states = {}
    for node in cluster.get("Nodes", []) or []:
        name = node["Name"]
        states[name.upper()] = node.get("State")
        out.check("node_state", name)
        out.check("node_facts", name)
        if node.get("State") != "Up":
            out.add("node_state", "not_up", "warning", _object("node", name, name),
                    f"cluster node is {node.get('State')}",
                    "the backups of the VMs on a node that is not Up fail or are skipped",
                    fix=_fix("bring the node back, or drain it and leave it out of backup jobs"))
    for missing in cluster.get("MissingNodes", []) or []:
        up = states.get(str(missing).upper()) == "Up"
        out.add("node_facts", "missing", "warning" if up else "info", _object("node", missing, missing),
                "no facts from this node: its VMs are not in this report",
                "nothing is known about the backups of the VMs that run there",
                fix=_fix("include the node in the play (every node of the cluster)"))


# --- the nodes: VSS -------------------------------------------------------------------------------------

def _vss_access_control(out, name, facts, policy):
    if not policy["vss_accounts"] or not isinstance(facts.get("vss_access_control"), dict):
        return
    out.check("vss_access_control", name)
    values = {fold(str(key)): value for key, value in facts["vss_access_control"].items()}
    fix = _fix("hyperv.backup.vss_access_control with the backup product's accounts",
               "hyperv.backup.vss_access_control", "hyperv.backup.vss_access_control")
    impact = ("a writer cannot call back the backup product's requester: VSS event 8194 (0x80070005, access denied) "
              "and a failed or incomplete backup")
    for account in policy["vss_accounts"]:
        value = values.get(fold(account))
        if value in (1, 3):
            continue
        if value is None:
            code, what = "missing", "is not listed"
        elif value == 0:
            code, what = "denied", "is denied (0)"
        elif value == 2:
            code, what = "requester_only", "is allowed as a requester only (2), not as a writer"
        else:
            code, what = "invalid", f"has {shown(value)}, which is not an access value (0 to 3)"
        out.add("vss_access_control", code, "error", _object("node", name, name),
                f"{account} is not allowed under VssAccessControl: it {what}", impact, [VSS_8194], fix)


def _no_error_text(writers):
    """The ``Last error`` text that means no error on this node. vssadmin prints it localized: the English
    'No error' when a writer shows it, else the text most Stable writers show (three or more), else None."""
    texts = [w["LastError"] for w in writers if w.get("LastError")]
    if any(text.lower() == "no error" for text in texts):
        return next(text for text in texts if text.lower() == "no error")
    stable = [w["LastError"] for w in writers if w.get("State") == 1 and w.get("LastError")]
    if len(stable) >= 3:
        best = max(set(stable), key=stable.count)
        if stable.count(best) * 2 > len(stable):
            return best
    return None


def _vss_writers(out, name, facts, clustered):
    if "vss_writers_text" not in facts:
        return
    writers = parse_vss_writers(facts["vss_writers_text"])
    out.check("vss_writer", name)
    no_error = _no_error_text(writers)
    for writer in writers:
        state, last = writer.get("State"), writer.get("LastError")
        failing = state != 1
        has_error = state == 1 and no_error is not None and last and last != no_error
        if not (failing or has_error):
            continue
        if writer.get("Id") and "{" + str(writer["Id"]).strip("{}").lower() + "}" == HYPERV_WRITER_ID:
            quoted = ps_quote(name)
            command = (f"Suspend-ClusterNode -Name {quoted} -Drain -Wait; Restart-Service -Name vmms; "
                       f"Resume-ClusterNode -Name {quoted} -Failback Immediate") if clustered else "Restart-Service -Name vmms"
            fix = _fix(("drain the node, restart the Hyper-V Virtual Machine Management service (VMMS), resume it: "
                        if clustered else "restart the Hyper-V Virtual Machine Management service: ") + command,
                       command=command)
        else:
            fix = _fix("restart the service of the writer (vssadmin list writers names it) once no backup runs")
        if failing:
            severity = "error" if state is None or state == 0 or state >= 5 else "warning"
            message = f"VSS writer {ps_quote(writer['Name'])} is [{state}] {writer.get('StateLabel')}, last error: {last}"
            code = "not_stable"
        else:
            severity, code = "warning", "last_error"
            message = f"VSS writer {ps_quote(writer['Name'])} is Stable but its last error is: {last}"
        out.add("vss_writer", code, severity, _object("node", name, name), message,
                "a writer that is not Stable fails its part of the shadow copy, and the backup with it (VSS events "
                "8193, 12289)", [VSS_8193, VSS_12289], fix)


# --- the event logs -------------------------------------------------------------------------------------

def _event_logs(out, name, facts):
    logs = facts.get("event_logs")
    if not isinstance(logs, dict):
        return
    out.check("event_logs", name)
    obj = _object("node", name, name)
    for log in logs.get("logs") or []:
        status = log.get("status")
        where = log.get("log") + (f" ({log['provider']})" if log.get("provider") else "")
        if status in ("failed", "partial"):
            out.add("event_logs", "unreadable", "warning", obj,
                    f"the event log {where} could not be read{' completely' if status == 'partial' else ''}: {log.get('error')}",
                    "the evidence from this log is missing or incomplete",
                    fix=_fix("give the account Ansible connects with the right to read the log (Event Log Readers)"))
        elif status == "missing":
            out.add("event_logs", "missing", "info", obj, f"the event log {where} does not exist on this node",
                    "no evidence can come from it", fix=_fix(""))
        if log.get("truncated"):
            out.add("event_logs", "truncated", "info", obj,
                    f"{where} had more than {logs.get('max_per_log')} matching events since {logs.get('since')}: the "
                    f"newest {log.get('count')} were read, the older ones left out",
                    "counts and first times in the evidence cover only the events read",
                    fix=_fix("read fewer days (events_days) or more events per log (events_max)"))


def _attach_evidence(out, view, policy, now):
    """Evidence for every finding; the recent events no finding explains become findings of their own."""
    events = _events.node_events(view)
    if policy["events_max_age_hours"] is not None:
        events = _events.in_window(events, now - timedelta(hours=policy["events_max_age_hours"]))
    explained = set()
    indexed = _events.index(events)
    for finding in out.findings:
        finding["evidence"], used = _events.evidence(finding, indexed, out.scopes.get(id(finding)))
        explained.update(id(event) for event in used)
        if finding["check"] == "guest_cluster" and finding["evidence"] and finding["evidence"]["seen"]:
            finding["severity"] = "error"
    _unexplained(out, view, events, explained)


def _unexplained(out, view, events_by_node, explained):
    vms = {str(vm["Id"]).lower(): vm for vm in view["vms"]}
    failing = {(f["check"], str(f["object"].get("id") or f["object"]["name"]).lower()) for f in out.findings}
    groups = {}
    for node, events in events_by_node.items():
        for event in events:
            if id(event) in explained:
                continue
            key = (event["VMId"] or f"node:{node.upper()}", _events.label(event))
            groups.setdefault(key, []).append(event)
    for (subject, label), members in sorted(groups.items()):
        first = members[0]
        about = _events.describe(first)
        vm = vms.get(subject)
        if vm is not None:
            obj = _vm_object(vm)
        elif first["VMId"]:
            obj = {"kind": "vm", "name": first["VMId"], "id": first["VMId"], "node": first["node"]}
        else:
            obj = _object("node", first["node"], first["node"])
        count = len(members)
        often = "once" if count == 1 else f"{count} times"
        message = f"{label} ({about['title']}) logged {often} and no check explains it"
        check = about.get("check")
        if check and (check, str(obj.get("id") or obj["name"]).lower()) not in failing and out.evaluated(check, obj["name"]):
            message += f": the {check} check passes now for it (fixed since, or another cause)"
        elif vm is None and first["VMId"]:
            message += ": the VM it names is not in this view (removed, or on a node that sent no facts)"
        source = _events.source_of(first) or str(first.get("ProviderName") or first.get("LogName") or "event")
        code = re.sub(r"[^a-z0-9]+", "_", source.lower().replace("hyper-v-", "")).strip("_") + f"_{first.get('Id')}"
        out.add("unexplained_event", code, "warning", obj, message, about["meaning"],
                [{"source": source, "id": first.get("Id")}],
                _fix(about["fix"]))
        out.findings[-1]["evidence"] = _events.summarize_events(members)


# --- the whole ------------------------------------------------------------------------------------------

def _order(finding):
    return (SEVERITY_ORDER[finding["severity"]], finding["check"], str(finding["object"]["name"]).upper(),
            finding["code"], str(finding.get("node") or "").upper(), finding["message"])


def evaluate(view, policy=None, now=None):
    """``{findings, checked, now}`` for a view from ``cluster_view``: the findings most severe first, then by
    check and object; ``checked``, per check, the object names it evaluated; ``now``, the time ages were
    judged against (``now`` given, else the hosts' clock when they read their events, else the controller's).
    Raises :class:`PolicyError` for a policy that is not valid."""
    policy = validate_policy(policy)
    now = now or _events.hosts_clock(view) or datetime.now(timezone.utc)
    out = _Findings()
    cluster = view.get("cluster")
    volumes = (cluster or {}).get("SharedVolumes") or []
    find = volume_finder(volumes)
    owners = {v["Name"]: v.get("OwnerNode") for v in volumes if v.get("State", "Online") == "Online"}
    roles = _role_index(cluster or {})
    for vm in view["vms"]:
        _vm_checks(out, view, vm, policy, now, find, owners, roles)
    _vhd_set_folders(out, view)
    if cluster:
        _config_store(out, view)
        if policy["vm_on_csv_owner"]:
            _balancers(out, view)
        _nodes(out, view)
    for name, facts in view["nodes"].items():
        _vss_access_control(out, name, facts, policy)
        _vss_writers(out, name, facts, bool(cluster))
        _event_logs(out, name, facts)
    _attach_evidence(out, view, policy, now)
    out.findings.sort(key=_order)
    return {"findings": out.findings, "checked": out.checked, "now": now}


def assess(view, policy=None, now=None):
    """The findings of :func:`evaluate`."""
    return evaluate(view, policy, now)["findings"]


def summarize(findings, checked=None):
    """``{by_check, by_severity, total}``; with ``checked``, also ``checks`` (object checks evaluated) and
    ``passed`` (those with no finding)."""
    by_check, by_severity = {}, {s: 0 for s in SEVERITY_ORDER}
    for finding in findings:
        by_check[finding["check"]] = by_check.get(finding["check"], 0) + 1
        by_severity[finding["severity"]] += 1
    summary = {"by_check": by_check, "by_severity": by_severity, "total": len(findings)}
    if checked is not None:
        failed = {(f["check"], str(f["object"]["name"]).casefold()) for f in findings}
        pairs = {(check, str(name).casefold()) for check, names in checked.items() for name in names}
        summary["checks"] = len(pairs)
        summary["passed"] = len(pairs - failed)
    return summary


def describe_view(view):
    """What the view holds, as text lines: the cluster, its nodes with their VMs, its volumes and owners."""
    per_node = {}
    for vm in view["vms"]:
        per_node.setdefault(vm["Node"].upper(), []).append(vm)
    cluster = view.get("cluster")
    lines = []
    if cluster:
        lines.append(f"Cluster {cluster['Name']}: {len(cluster.get('Nodes', []))} nodes, {len(view['vms'])} VMs, "
                     f"ConfigStoreRootPath {(cluster.get('Parameters') or {}).get('ConfigStoreRootPath') or '(not set)'}")
        states = {node["Name"].upper(): node.get("State") for node in cluster.get("Nodes", [])}
    else:
        lines.append(f"{len(view['nodes'])} stand-alone hosts, {len(view['vms'])} VMs")
        states = {}
    for name in sorted(view["nodes"], key=str.upper):
        vms = per_node.get(name.upper(), [])
        running = sum(1 for vm in vms if vm.get("State") == "Running")
        state = f" {states[name.upper()]}," if name.upper() in states else ""
        logs = view["nodes"][name].get("event_logs")
        events = (f", {len(view['nodes'][name].get('events') or [])} backup events since {logs.get('since')}"
                  if isinstance(logs, dict) else "")
        lines.append(f"  node {name}:{state} {len(vms)} VMs ({running} running){events}")
    for volume in (cluster or {}).get("SharedVolumes", []):
        lines.append(f"  volume {volume['Name']} at {volume['Path']}: owned by {volume['OwnerNode']}, {volume['State']}")
    for folder in view.get("vhd_set_folders", []):
        lines.append(f"  VHD Set folder {folder['Path']}: used by {', '.join(folder['VMs'])}")
    for name in (cluster or {}).get("MissingNodes", []):
        lines.append(f"  node {name}: sent no facts")
    return lines


def format_report(findings, summary, view=None, title="Hyper-V backup readiness"):
    """Findings as text lines for a terminal: what was seen (with ``view``), the findings grouped by check
    (each with its fix, the command where there is one, and its evidence), then the totals."""
    lines = [title, "=" * len(title)]
    if view is not None:
        lines.extend(describe_view(view))
        lines.append("")
    check = None
    for finding in findings:
        if finding["check"] != check:
            check = finding["check"]
            lines.append(f"[{check}] {summary['by_check'][check]}")
        where = f" on {finding['node']}" if finding["node"] and finding["node"] != finding["target"] else ""
        lines.append(f"  {finding['severity'].upper():7} {finding['target']}{where}: {finding['message']}")
        fix = finding["fix"]
        if fix.get("text"):
            lines.append(f"          fix: {fix['text']}")
        if fix.get("command") and fix["command"] not in (fix.get("text") or ""):
            lines.append(f"          command: {fix['command']}")
        if finding["evidence"] is not None:
            lines.append(f"          evidence: {evidence_text(finding['evidence'])}")
    totals = summary["by_severity"]
    lines.append(f"{summary['total']} findings: {totals['error']} errors, {totals['warning']} warnings, {totals['info']} info")
    return lines
