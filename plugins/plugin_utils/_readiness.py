"""Judge a cluster view against the backup baseline: what would make a host-level backup fail.

Plain data in, plain data out: ``assess(view, policy, now)`` returns findings, each naming the check,
its target and the fix. The checks and their sources are listed in docs/backup-baseline.md.

The policy's ``checkpoint_types`` are the compliant checkpoint types of ``_checkpoint_policy`` (the first
is what a non-compliant VM gets), so the report accepts exactly what ``hyperv.backup.checkpoint_type``
leaves alone. ``validate_policy`` checks a policy before it is used and names any bad value.
"""
from datetime import datetime, timezone
from numbers import Real

from ansible_collections.hyperv.backup.plugins.plugin_utils._checkpoint_policy import (
    DEFAULT_TARGET,
    CheckpointPolicyError,
    default_compliant_types,
    MIN_VERSION_TEXT,
    remediation_args,
    type_list,
    version_too_old,
)
from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import vm_sid
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type, shown
from ansible_collections.hyperv.backup.plugins.plugin_utils._vss import parse_vss_writers
from ansible_collections.hyperv.backup.plugins.plugin_utils._windows_path import normalize

DEFAULT_POLICY = {
    "checkpoint_types": default_compliant_types(DEFAULT_TARGET),
    "automatic_checkpoints": False,
    "scsi_controllers": 1,
    "vss_accounts": [],
    "recovery_checkpoint_max_age_hours": 24,
    "vm_on_csv_owner": True,
}

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
FULL_CONTROL = "FullControl"
MAX_SCSI_CONTROLLERS = 4
# The characters PowerShell takes for a single quote (ASCII and typographic); doubled inside '...'.
_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


class PolicyError(ValueError):
    """A readiness policy that is not valid; the message names the key, the value and its type."""


def _bad(key, value, wanted):
    return PolicyError(f"policy.{key}: {shown(value)} is {describe_type(value)}; {wanted}")


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
    if isinstance(value, bool) or not isinstance(value, Real) or value < 0:
        raise _bad("recovery_checkpoint_max_age_hours", value, "give a number of hours, 0 or more")
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


def _finding(check, severity, target, message, fix, node=None):
    return {"check": check, "severity": severity, "target": target, "node": node, "message": message, "fix": fix}


def _parse_time(text):
    return datetime.strptime(text.replace("Z", "+00:00")[:25], "%Y-%m-%dT%H:%M:%S%z") if "T" in text else None


def _acl(view, folder):
    for facts in view["nodes"].values():
        for acl in facts.get("acls", []) or []:
            if normalize(acl["Path"]) == normalize(folder):
                return acl
    return None


def _has_vm_full_control(acl, sid):
    for ace in acl.get("Access", []):
        if (ace.get("Sid") == sid and ace.get("AccessControlType") == "Allow"
                and FULL_CONTROL in ace.get("FileSystemRights", "")
                and "ObjectInherit" in ace.get("InheritanceFlags", "")):
            return True
    return False


def _vm_checks(vm, policy, now):
    node, name = vm["Node"], vm["Name"]
    types = policy["checkpoint_types"]
    # host_facts reports null for what it could not read on this VM (a critical state, a property that
    # threw): such a setting is unknown, not wrong, and one finding says so instead of a false one per check.
    unread = [key for key in ("CheckpointType", "ScsiControllers", "Checkpoints") if key in vm and vm[key] is None]
    if unread:
        yield _finding("vm_facts", "warning", name,
                       f"the host could not read {', '.join(unread)} of this VM (state {vm.get('State')}): "
                       "those checks were skipped for it",
                       "look at the VM in Hyper-V Manager (a critical state needs its storage back), then run again", node)
    if vm.get("CheckpointType") is not None and vm.get("CheckpointType") not in types:
        fix = f"hyperv.backup.checkpoint_type with {remediation_args(types)}"
        if version_too_old(types[0], vm.get("Version")):
            fix = (f"Update-VMVersion -VMName {ps_quote(name)} with the VM off (configuration version "
                   f"{vm.get('Version')} is too old for {types[0]} checkpoints, which need {MIN_VERSION_TEXT}; "
                   f"it cannot be undone), then {fix}")
        yield _finding("checkpoint_type", "error", name,
                       f"checkpoint type is {vm.get('CheckpointType')}, not {' or '.join(types)}: backups are not application consistent",
                       fix, node)
    if policy["automatic_checkpoints"] is False and vm.get("AutomaticCheckpointsEnabled"):
        yield _finding("automatic_checkpoints", "warning", name,
                       "automatic checkpoints are on: every start leaves a checkpoint and grows the AVHDX chain",
                       "hyperv.backup.checkpoint_type with automatic_checkpoints=false", node)
    controllers = len(vm.get("ScsiControllers") or [])
    if vm.get("ScsiControllers", []) is not None and controllers < policy["scsi_controllers"]:
        yield _finding("scsi_controller", "error", name,
                       f"{controllers} SCSI controllers: the backup cannot hot-add its recovery disk (VMMS event 10103)",
                       "hyperv.backup.scsi_controller (the VM must be off to add one)", node)
    backup = vm.get("BackupIntegration") or {}
    if backup and not backup.get("Enabled"):
        yield _finding("backup_integration", "error", name,
                       "the Backup (volume shadow copy) integration service is off: no application-consistent backup",
                       "Enable-VMIntegrationService for the VSS service", node)
    for checkpoint in vm.get("Checkpoints") or []:
        created = _parse_time(checkpoint.get("CreationTime") or "")
        if checkpoint.get("SnapshotType") == "Recovery" and created:
            age = (now - created).total_seconds() / 3600
            if age > policy["recovery_checkpoint_max_age_hours"]:
                yield _finding("recovery_checkpoint", "warning", name,
                               f"recovery checkpoint '{checkpoint['Name']}' is {age / 24:.0f} days old: a failed backup left it and its AVHDX chain grows (KB 3059372)",
                               f"Get-VMSnapshot -VMName {ps_quote(name)} -SnapshotType Recovery | Remove-VMSnapshot", node)
    if policy["vm_on_csv_owner"] and vm.get("OnSharedVolumeOwner") is False:
        yield _finding("csv_placement", "warning", name,
                       f"runs on {node} but {vm['SharedVolume']} is owned by {vm['SharedVolumeOwner']}",
                       f"live-migrate to {vm['SharedVolumeOwner']} or move the volume to {node}", node)


def assess(view, policy=None, now=None):
    """Findings for a view from ``cluster_view``, most severe first, then by check and target.
    Raises :class:`PolicyError` for a policy that is not valid."""
    policy = validate_policy(policy)
    now = now or datetime.now(timezone.utc)
    findings = []
    for vm in view["vms"]:
        findings.extend(_vm_checks(vm, policy, now))

    for folder in view.get("vhd_set_folders", []):
        path = folder["Path"]
        acl = _acl(view, path)
        if acl is None:
            findings.append(_finding("vhd_set_acl", "info", path, "ACL not read: gather it with host_facts acl_paths", "host_facts acl_paths"))
            continue
        for vm_id, vm_name in zip(folder["VMIds"], folder["VMs"]):
            sid = vm_sid(vm_id)
            if not _has_vm_full_control(acl, sid):
                findings.append(_finding(
                    "vhd_set_acl", "error", path,
                    f"no Full Control (OI) for NT VIRTUAL MACHINE\\{vm_id.upper()} ({vm_name}): the recovery checkpoint merge fails with 0x80070005 (VMMS event 19100)",
                    f'icacls "{path}" /grant *{sid}:(OI)F'))

    cluster = view.get("cluster")
    if cluster:
        root = (cluster.get("Parameters") or {}).get("ConfigStoreRootPath")
        if not root:
            findings.append(_finding("config_store_root_path", "error" if view.get("vhd_set_folders") else "warning", cluster["Name"],
                                     "ConfigStoreRootPath is not set: VHD Set collections cannot be checkpointed",
                                     "Set-ClusterParameter ConfigStoreRootPath on 'Virtual Machine Cluster WMI' to a folder on a CSV (once; it cannot be changed)"))
        for node in cluster.get("Nodes", []):
            if node.get("State") != "Up":
                findings.append(_finding("node_state", "warning", node["Name"], f"cluster node is {node.get('State')}", "bring the node back or drain it from backup jobs", node["Name"]))
        for missing in cluster.get("MissingNodes", []):
            findings.append(_finding("node_facts", "info", missing, "no facts from this node: its VMs are not in this report", "include it in the play", missing))

    for name, facts in view["nodes"].items():
        if "vss_access_control" in facts:
            granted = {k.upper(): v for k, v in (facts["vss_access_control"] or {}).items()}
            for account in policy["vss_accounts"]:
                if granted.get(account.upper()) not in (1, 3):
                    findings.append(_finding("vss_access_control", "error", name,
                                             f"{account} is not allowed under VssAccessControl: VSS event 8194 (0x80070005) during backups",
                                             f"set HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl\\{account} = 1 (REG_DWORD)", name))
        if "vss_writers_text" in facts:
            for writer in parse_vss_writers(facts["vss_writers_text"]):
                if writer["State"] != 1:
                    findings.append(_finding("vss_writer", "error" if writer["State"] and writer["State"] >= 5 else "warning", name,
                                             f"VSS writer '{writer['Name']}' is [{writer['State']}] {writer['StateLabel']}, last error: {writer['LastError']}",
                                             "drain the node and restart the writer's service (VMMS for the Hyper-V writer)", name))

    findings.sort(key=lambda f: (SEVERITY_ORDER[f["severity"]], f["check"], str(f["target"]).upper()))
    return findings


def summarize(findings):
    """``{check: count}`` and the totals per severity."""
    by_check, by_severity = {}, {s: 0 for s in SEVERITY_ORDER}
    for finding in findings:
        by_check[finding["check"]] = by_check.get(finding["check"], 0) + 1
        by_severity[finding["severity"]] += 1
    return {"by_check": by_check, "by_severity": by_severity, "total": len(findings)}


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
        lines.append(f"  node {name}:{state} {len(vms)} VMs ({running} running)")
    for volume in (cluster or {}).get("SharedVolumes", []):
        lines.append(f"  volume {volume['Name']} at {volume['Path']}: owned by {volume['OwnerNode']}, {volume['State']}")
    for folder in view.get("vhd_set_folders", []):
        lines.append(f"  VHD Set folder {folder['Path']}: used by {', '.join(folder['VMs'])}")
    for name in (cluster or {}).get("MissingNodes", []):
        lines.append(f"  node {name}: sent no facts")
    return lines


def format_report(findings, summary, view=None, title="Hyper-V backup readiness"):
    """Findings as text lines for a terminal: what was seen (with ``view``), one line per finding grouped
    by check, then the totals."""
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
        lines.append(f"          fix: {finding['fix']}")
    totals = summary["by_severity"]
    lines.append(f"{summary['total']} findings: {totals['error']} errors, {totals['warning']} warnings, {totals['info']} info")
    return lines
