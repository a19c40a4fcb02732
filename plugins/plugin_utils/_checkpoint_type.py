"""Planner of ``hyperv.backup.checkpoint_type``: which VMs need ``Set-VM -CheckpointType`` /
``-AutomaticCheckpointsEnabled``, from one node's facts. Plain functions over plain data.

A plan is ``{'vms': [entry...], 'operations': [op...], 'pending': [...], 'notes': [str...], 'elsewhere': [...]}``:

- entry: ``{'id', 'name', 'before', 'after', 'status', 'msg'?}`` with ``status`` ``ok`` (nothing to do),
  ``changed`` (will change) or ``pending`` (left alone, ``msg`` says why and what fixes it); ``before`` /
  ``after`` hold only the managed settings, under the names ``Get-VM`` gives them (``CheckpointType``,
  ``AutomaticCheckpointsEnabled``).
- op: what ``checkpoint_type.ps1`` is told to do for one VM: ``{'id', 'name', 'checkpoint_type'?,
  'automatic_checkpoints'?}`` with only the settings that differ.

Which types are compliant (left alone) and which one a non-compliant VM gets is ``_checkpoint_policy``'s
notion: ``checkpoint_type: Production`` leaves ``ProductionOnly`` VMs alone unless ``compliant_types``
says otherwise.

Changing the checkpoint type or automatic checkpoints is allowed in any VM state (Hyper-V Manager and
``Set-VM`` change them on a running VM) but a critical one. Three things are refused before anything is sent:

- a VM in a critical state (``OffCritical``, ``RunningCritical``, ...: the storage that holds its configuration
  is not accessible) cannot be changed: it is ``pending`` with the reason, so that check mode predicts what the
  host does (``Set-VM`` fails for it);

- a VM whose configuration version is older than 6.2 cannot get Production checkpoints: it is ``pending``
  (nothing is sent for it, not even automatic checkpoints) with the version and the fix (``Update-VMVersion``,
  which needs the VM off and cannot be undone, so this module never does it on its own);
- a host without automatic checkpoints (it reports ``node.AutomaticCheckpointsSupported: false``: Windows
  Server 2016 and older) is left alone for that setting, with a note; the checkpoint type is still applied.
"""
from ansible_collections.hyperv.backup.plugins.plugin_utils._checkpoint_policy import (
    CheckpointPolicyError,
    canonical_type,
    compliant_types,
    version_refusal,
)
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import select_vms
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError, finish


def check_options(options):
    """Validate what the argument spec cannot; returns ``(target type or None, compliant types or None)``.
    Raises :class:`PlanError` naming the value."""
    want_type = options.get("checkpoint_type")
    given = options.get("compliant_types")
    if want_type is None and options.get("automatic_checkpoints") is None:
        raise PlanError("checkpoint_type: give checkpoint_type, automatic_checkpoints or both")
    if want_type is None:
        if given is not None:
            raise PlanError("compliant_types: it says which checkpoint types to leave alone when checkpoint_type "
                            "is set; give checkpoint_type too")
        return None, None
    try:
        want_type = canonical_type(want_type)
        return want_type, compliant_types(want_type, given)
    except CheckpointPolicyError as err:
        raise PlanError(str(err)) from None


def is_critical(state):
    """True for the ``...Critical`` VM states (the storage that holds the VM is not accessible)."""
    return isinstance(state, str) and state.endswith("Critical") and state != "Critical"


def critical_refusal(state):
    return (f"{state}: the storage that holds the VM's configuration is not accessible, so its settings cannot be "
            "changed; bring the storage (the CSV or share) back, then run this again")


def _automatic_checkpoints_note(node):
    build = node.get("OsBuild")
    built = f" (Windows build {build})" if build else ""
    return (f"automatic_checkpoints: {node.get('Name', 'this host')}{built} has no automatic checkpoints "
            "(Set-VM has no AutomaticCheckpointsEnabled parameter there; Windows Server 2016 and older): "
            "the setting was left alone on its VMs")


def plan(facts, options):
    """``options``: ``checkpoint_type`` (or None), ``compliant_types`` (or None: the default for the type),
    ``automatic_checkpoints`` (bool or None), ``vms``, ``exclude``, ``query``. Raises :class:`PlanError`
    naming the bad value."""
    want_type, accepted = check_options(options)
    want_auto = options.get("automatic_checkpoints")
    node = facts.get("node") or {}
    notes = []
    if want_auto is not None and not node.get("AutomaticCheckpointsSupported", False):
        notes.append(_automatic_checkpoints_note(node))
        want_auto = None

    selection = select_vms(facts, options.get("vms"), options.get("exclude"), options.get("query"))
    entries, operations, pending = [], [], []
    for vm in selection["selected"]:
        before, after, op = {}, {}, {"id": str(vm["Id"]).lower(), "name": vm["Name"]}
        if want_type is not None:
            before["CheckpointType"] = vm.get("CheckpointType")
            if vm.get("CheckpointType") in accepted:
                after["CheckpointType"] = vm.get("CheckpointType")
            else:
                after["CheckpointType"] = want_type
                op["checkpoint_type"] = want_type
        if want_auto is not None:
            before["AutomaticCheckpointsEnabled"] = vm.get("AutomaticCheckpointsEnabled")
            after["AutomaticCheckpointsEnabled"] = bool(want_auto)
            if vm.get("AutomaticCheckpointsEnabled") is not bool(want_auto):
                op["automatic_checkpoints"] = bool(want_auto)
        entry = {"id": op["id"], "name": vm["Name"], "before": before}
        refusal = None
        if len(op) > 2 and is_critical(vm.get("State")):
            refusal = critical_refusal(vm.get("State"))
        elif "checkpoint_type" in op:
            refusal = version_refusal(want_type, vm.get("Version"))
        if refusal:
            entry.update(after=dict(before), status="pending", msg=refusal)
            pending.append({"id": op["id"], "name": vm["Name"], "reason": refusal})
        elif len(op) > 2:
            entry.update(after=after, status="changed")
            operations.append(op)
        else:
            entry.update(after=dict(before), status="ok")
        entries.append(entry)
    return {"vms": entries, "operations": operations, "pending": pending, "notes": notes,
            "elsewhere": selection["elsewhere"]}


def module_args(the_plan, options):
    """The arguments of ``checkpoint_type.ps1`` for a plan."""
    return {"operations": the_plan["operations"]}


def merge(the_plan, apply_result):
    """Final per-VM entries, counts, ``pending`` and ``notes``: the plan, with what ``checkpoint_type.ps1``
    reported per VM."""
    final = finish(the_plan, apply_result)
    final["pending"] = [{"id": e["id"], "name": e["name"], "reason": e.get("msg", "")}
                        for e in final["vms"] if e["status"] == "pending"]
    final["notes"] = list(the_plan.get("notes") or [])
    return final
