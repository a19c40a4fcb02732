"""Planner of ``hyperv.backup.backup_integration``: which VMs need their Backup (volume shadow copy)
integration service enabled (or disabled), from one node's facts. Plain functions over plain data.

Hyper-V backs a VM up application-consistently by asking the guest, through this integration service, to take a
VSS snapshot inside the VM. With the service off a host-level backup falls back to a crash-consistent copy or
to saving the VM's state. ``host_facts`` reports it as ``BackupIntegration: {Enabled, PrimaryStatusDescription}``,
found by the integration component ID that ends its ``Id`` (``Microsoft:<VM ID>\\5CED1297-4598-4915-A5FC-
AD21BB4D02A4``), not by its name, which is localized.

Per VM (entries ``{'id', 'name', 'before': {'Enabled'}, 'after': {'Enabled'}, 'status', 'msg'?, 'guest_status'}``):

- already as asked: ``ok``;
- ``BackupIntegration: null``: ``pending``, nothing is planned for it (the read failed, as the task's warnings
  say, or the VM has no such service);
- Off or Running: ``changed``. Microsoft documents changing an integration service of a running VM (the
  guest's service starts or stops by itself, "Manage Hyper-V Integration Services") and of one that is off (a
  setting);
- any other state (Saved, Paused, Starting, ...): ``pending`` with the reason. Microsoft does not say whether
  Enable-VMIntegrationService works then; the strictest case is that it does not, and such a VM is not worth a
  failed task: start it or turn it off and run the task again.

``guest_status`` is the service's ``PrimaryStatusDescription`` as last read (``OK``, ``No Contact``, ``Lost
Communication``, ...; null when unread). For a Running VM whose service is enabled and whose guest does not
answer ``OK``, a note says what the guest lacks: the host offers the service, but a backup still falls back.

Operations for ``backup_integration.ps1``: ``{'id', 'name', 'enabled'}``.
"""
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import select_vms
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import shown
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError, finish

STATES = ("enabled", "disabled")
CHANGEABLE_STATES = ("Off", "Running")
SERVICE = "Backup (volume shadow copy) integration service"


def check_options(options):
    """Validate what the argument spec cannot; raises :class:`PlanError` naming the value."""
    if options.get("state", "enabled") not in STATES:
        raise PlanError(f"state: unknown value {shown(options.get('state'))}; choose from {', '.join(STATES)}")


def _guest_note(entry):
    return (f"{entry['name']} ({entry['id']}): the host offers its {SERVICE}, but the guest does not answer "
            f"(status: {entry['guest_status']}), so a backup of it still falls back to a crash-consistent or "
            "saved-state copy. Windows guests run it as the service 'Hyper-V Volume Shadow Copy Requestor' "
            "(vmicvss); Linux guests need hv_vss_daemon (the hyperv-daemons package)")


def plan(facts, options):
    """``options``: ``state``, ``vms``, ``exclude``, ``query``. Raises :class:`PlanError` or
    :class:`SelectionError` naming the bad value."""
    check_options(options)
    want = options.get("state", "enabled") == "enabled"
    selection = select_vms(facts, options.get("vms"), options.get("exclude"), options.get("query"))
    entries, operations = [], []
    for vm in selection["selected"]:
        vm_id, name, state = str(vm["Id"]).lower(), vm["Name"], vm.get("State")
        service = vm.get("BackupIntegration")
        entry = {"id": vm_id, "name": name, "state": state}
        if not isinstance(service, dict):
            entry.update(before={"Enabled": None}, after={"Enabled": None}, status="pending", guest_status=None,
                         msg=f"its {SERVICE} could not be read on this node, or it has none (the task's warnings say "
                             "why when the read failed), so nothing is planned for it; run the task again")
            entries.append(entry)
            continue
        have = bool(service.get("Enabled"))
        entry.update(before={"Enabled": have}, guest_status=service.get("PrimaryStatusDescription"))
        if have == want:
            entry.update(after={"Enabled": have}, status="ok")
        elif state in CHANGEABLE_STATES:
            entry.update(after={"Enabled": want}, status="changed")
            operations.append({"id": vm_id, "name": name, "enabled": want})
        else:
            entry.update(after={"Enabled": have}, status="pending",
                         msg=f"{state}: its integration services are changed only while the VM is Off or Running; "
                             "start it (or turn it off) and run the task again")
        entries.append(entry)
    return {"vms": entries, "operations": operations, "elsewhere": selection["elsewhere"]}


def module_args(the_plan, options):
    """The arguments of ``backup_integration.ps1`` for a plan."""
    return {"operations": the_plan["operations"]}


def merge(the_plan, apply_result):
    """Final per-VM entries, counts, ``pending`` and ``notes``: the plan, with what ``backup_integration.ps1``
    reported per VM (its ``guest_status`` is the newer read)."""
    final = finish(the_plan, apply_result)
    reported = {}
    if apply_result is not None:
        items = apply_result.get("vms")
        reported = {str(i.get("id", "")).lower(): i
                    for i in (items if isinstance(items, list) else []) if isinstance(i, dict)}
    for entry in final["vms"]:
        item = reported.get(entry["id"])
        if item is not None and "guest_status" in item:
            entry["guest_status"] = item["guest_status"]
    final["pending"] = [{"id": e["id"], "name": e["name"], "reason": e.get("msg", "")}
                        for e in final["vms"] if e["status"] == "pending"]
    final["notes"] = []
    for entry in final["vms"]:
        state = entry.pop("state", None)
        if (state == "Running" and entry["status"] != "failed" and entry["after"].get("Enabled") is True
                and entry.get("guest_status") not in (None, "", "OK")):
            note = _guest_note(entry)
            if entry["status"] == "changed":
                note += "; it was read right after the service was enabled, so run the task again to see whether it answers now"
            final["notes"].append(note)
    return final
