"""Planner of ``hyperv.backup.scsi_controller``: which VMs need ``Add-VMScsiController``, which of them
can be changed now, and which running VMs may be shut down for it. Plain functions over plain data.

A host-level backup hot-adds a recovery disk to the VM, so the VM needs a virtual SCSI controller
(VMMS event 10103 otherwise). A VM has at most 4 SCSI controllers. Hyper-V adds one only while the VM is
Off (the rule HyperVDsc's ``DSC_VMScsiController`` follows: it refuses a running VM unless
``RestartIfNeeded``), so a VM in any other state is:

- ``running_vms: skip`` (default): left alone, ``pending`` with the reason;
- ``running_vms: fail``: the task fails listing those VMs and nothing is applied;
- ``running_vms: restart``: a Running VM is shut down gracefully (the guest is asked, never turned off),
  given its controllers and started again, one VM at a time, at most ``max_restarts`` VMs per run in
  the plan's order (name, then ID); the rest are ``pending`` with ``max_restarts reached``. A Saved,
  Paused or otherwise not Running VM is never restarted: it is ``pending``.

A VM whose SCSI controllers could not be read (``ScsiControllers: null`` in the facts, with a warning) is
``pending``: nothing is planned for what is not known.

Entries: ``{'id', 'name', 'before': {'ScsiControllers': n}, 'after': {...}, 'status', 'msg'?,
'restart'?}`` (``restart: true`` when the plan shuts the VM down); after an apply, a restart entry also
has ``restarted`` (shut down and started again by this run) and ``shutdown``: ``completed`` (it was Off in
time), ``unfinished`` (asked to shut down, not Off after ``shutdown_timeout`` + ``shutdown_grace``: status
``changed``, no controller added, ``msg`` says what to do), ``refused`` (the guest refused at once, e.g.
locked: status ``failed``, nothing changed) or ``none`` (not attempted). A shut down that was sent always
makes the result ``changed``, whatever failed afterwards. Operations for ``scsi_controller.ps1``:
``{'id', 'name', 'count', 'restart'}`` where ``count`` is the total the VM must have.
"""
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import select_vms
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError, finish

MAX_CONTROLLERS = 4
RUNNING_VMS = ("skip", "fail", "restart")


def check_options(options):
    """Validate what the argument spec cannot (ranges); raises :class:`PlanError` naming the value."""
    count = options.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CONTROLLERS:
        raise PlanError(
            f"count: {count!r} is out of range; a VM has at most {MAX_CONTROLLERS} SCSI controllers, "
            f"so count must be 1 to {MAX_CONTROLLERS}"
        )
    if options.get("running_vms", "skip") not in RUNNING_VMS:
        raise PlanError(f"running_vms: unknown value '{options.get('running_vms')}'; choose from {', '.join(RUNNING_VMS)}")
    max_restarts = options.get("max_restarts", 1)
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
        raise PlanError(f"max_restarts: {max_restarts!r} must be an integer of 0 or more")
    timeout = options.get("shutdown_timeout", 300)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 86400:
        raise PlanError(f"shutdown_timeout: {timeout!r} must be a number of seconds from 1 to 86400")
    grace = options.get("shutdown_grace", 300)
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 86400:
        raise PlanError(f"shutdown_grace: {grace!r} must be a number of seconds from 0 to 86400")


def plan(facts, options):
    """``options``: ``count``, ``running_vms``, ``max_restarts``, ``shutdown_timeout``, ``vms``, ``exclude``,
    ``query``. Raises :class:`PlanError` naming the bad value or, with ``running_vms: fail``, the VMs."""
    check_options(options)
    count = options.get("count", 1)
    policy = options.get("running_vms", "skip")
    max_restarts = options.get("max_restarts", 1)
    selection = select_vms(facts, options.get("vms"), options.get("exclude"), options.get("query"))

    entries, operations, pending, refused = [], [], [], []
    restarts = 0
    for vm in selection["selected"]:
        vm_id, name, state = str(vm["Id"]).lower(), vm["Name"], vm.get("State")
        controllers = vm.get("ScsiControllers")
        have = len(controllers or [])
        entry = {"id": vm_id, "name": name, "before": {"ScsiControllers": have}}
        reason = None
        if controllers is None:
            entry["before"] = {"ScsiControllers": None}
            reason = ("its SCSI controllers could not be read on this node (the task's warnings say why), so "
                      "nothing is planned for it; run the task again")
        elif have >= count:
            entry.update(after={"ScsiControllers": have}, status="ok")
        elif state == "Off":
            operations.append({"id": vm_id, "name": name, "count": count, "restart": False})
            entry.update(after={"ScsiControllers": count}, status="changed")
        elif policy == "fail":
            refused.append(f"{name} ({state})")
            continue
        elif state == "Running" and policy == "restart" and restarts < max_restarts:
            restarts += 1
            operations.append({"id": vm_id, "name": name, "count": count, "restart": True})
            entry.update(after={"ScsiControllers": count}, status="changed", restart=True)
        elif state == "Running" and policy == "restart":
            reason = f"max_restarts reached ({max_restarts}); it needs a shut down to get a SCSI controller"
        elif state == "Running":
            reason = ("Running: Hyper-V adds a SCSI controller only while the VM is Off; "
                      "set running_vms: restart to shut it down and start it again")
        else:
            reason = (f"{state}: Hyper-V adds a SCSI controller only while the VM is Off, and a VM that is "
                      f"{state} is never restarted; turn it off or start it first")
        if reason:
            entry.update(after=dict(entry["before"]), status="pending", msg=reason)
            pending.append({"id": vm_id, "name": name, "reason": reason})
        entries.append(entry)

    if refused:
        raise PlanError(
            f"running_vms: fail: {len(refused)} VM(s) need a SCSI controller but are not Off, so nothing was "
            f"changed: {', '.join(refused)}"
        )
    return {"vms": entries, "operations": operations, "pending": pending, "elsewhere": selection["elsewhere"]}


def module_args(the_plan, options):
    """The arguments of ``scsi_controller.ps1`` for a plan."""
    return {"operations": the_plan["operations"], "shutdown_timeout": options.get("shutdown_timeout", 300),
            "shutdown_grace": options.get("shutdown_grace", 300)}


SHUTDOWNS = ("none", "completed", "unfinished", "refused")


def merge(the_plan, apply_result):
    """Final per-VM entries, counts and ``pending`` (planned pending plus what the apply left pending).

    Besides the statuses, ``counts`` has ``restarted`` (shut down and started again) and
    ``shutdown_unfinished`` (asked to shut down, not Off in time); ``changed`` is true whenever a shut
    down was sent, also when the VM then failed."""
    final = finish(the_plan, apply_result)
    final["pending"] = [{"id": e["id"], "name": e["name"], "reason": e.get("msg", "")}
                        for e in final["vms"] if e["status"] == "pending"]
    if apply_result is not None:
        items = apply_result.get("vms")
        reported = {str(i.get("id", "")).lower(): i
                    for i in (items if isinstance(items, list) else []) if isinstance(i, dict)}
        for entry in final["vms"]:
            if entry.get("restart"):
                item = reported.get(entry["id"], {})
                entry["restarted"] = bool(item.get("restarted"))
                shutdown = item.get("shutdown")
                entry["shutdown"] = shutdown if shutdown in SHUTDOWNS else "none"
    entries = final["vms"]
    final["counts"]["restarted"] = sum(1 for e in entries if e.get("restarted"))
    final["counts"]["shutdown_unfinished"] = sum(1 for e in entries if e.get("shutdown") == "unfinished")
    if any(e.get("shutdown") in ("completed", "unfinished") for e in entries):
        final["changed"] = True
    return final
