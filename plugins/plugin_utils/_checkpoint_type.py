"""Planner of ``hyperv.backup.checkpoint_type``: which VMs need ``Set-VM -CheckpointType`` /
``-AutomaticCheckpointsEnabled``, from one node's facts. Plain functions over plain data.

A plan is ``{'vms': [entry...], 'operations': [op...], 'elsewhere': [...]}``:

- entry: ``{'id', 'name', 'before', 'after', 'status'}`` with ``status`` ``ok`` (nothing to do) or
  ``changed`` (will change); ``before`` / ``after`` hold only the managed settings, under the names
  ``Get-VM`` gives them (``CheckpointType``, ``AutomaticCheckpointsEnabled``).
- op: what ``checkpoint_type.ps1`` is told to do for one VM: ``{'id', 'name', 'checkpoint_type'?,
  'automatic_checkpoints'?}`` with only the settings that differ.

Changing the checkpoint type or automatic checkpoints is allowed in any VM state (Hyper-V Manager and
``Set-VM`` change them on a running VM), so nothing is pending here.
"""
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import select_vms
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError, finish

CHECKPOINT_TYPES = ("Disabled", "Production", "ProductionOnly", "Standard")
# Windows 10 / Windows Server version 1709: the first build with automatic checkpoints.
AUTOMATIC_CHECKPOINTS_MIN_BUILD = 16299


def _canonical_type(value):
    for known in CHECKPOINT_TYPES:
        if str(value).lower() == known.lower():
            return known
    raise PlanError(f"checkpoint_type: unknown value '{value}'; choose from {', '.join(CHECKPOINT_TYPES)}")


def plan(facts, options):
    """``options``: ``checkpoint_type`` (or None), ``automatic_checkpoints`` (bool or None), ``vms``,
    ``exclude``, ``query``. Raises :class:`PlanError` naming the bad value."""
    want_type = options.get("checkpoint_type")
    want_auto = options.get("automatic_checkpoints")
    if want_type is None and want_auto is None:
        raise PlanError("checkpoint_type: give checkpoint_type, automatic_checkpoints or both")
    if want_type is not None:
        want_type = _canonical_type(want_type)
    node = facts.get("node") or {}
    if want_auto is not None and not node.get("AutomaticCheckpointsSupported", False):
        raise PlanError(
            f"automatic_checkpoints: {node.get('Name', 'this host')} runs Windows build {node.get('OsBuild', '?')}, "
            f"which has no automatic checkpoints (they need build {AUTOMATIC_CHECKPOINTS_MIN_BUILD}, version 1709, "
            "or later); leave automatic_checkpoints unset for this host"
        )

    selection = select_vms(facts, options.get("vms"), options.get("exclude"), options.get("query"))
    entries, operations = [], []
    for vm in selection["selected"]:
        before, after, op = {}, {}, {"id": str(vm["Id"]).lower(), "name": vm["Name"]}
        if want_type is not None:
            before["CheckpointType"] = vm.get("CheckpointType")
            after["CheckpointType"] = want_type
            if vm.get("CheckpointType") != want_type:
                op["checkpoint_type"] = want_type
        if want_auto is not None:
            before["AutomaticCheckpointsEnabled"] = vm.get("AutomaticCheckpointsEnabled")
            after["AutomaticCheckpointsEnabled"] = bool(want_auto)
            if vm.get("AutomaticCheckpointsEnabled") is not bool(want_auto):
                op["automatic_checkpoints"] = bool(want_auto)
        changing = len(op) > 2
        entries.append({"id": op["id"], "name": vm["Name"], "before": before,
                        "after": after if changing else dict(before), "status": "changed" if changing else "ok"})
        if changing:
            operations.append(op)
    return {"vms": entries, "operations": operations, "elsewhere": selection["elsewhere"]}


def module_args(the_plan, options):
    """The arguments of ``checkpoint_type.ps1`` for a plan."""
    return {"operations": the_plan["operations"]}


def merge(the_plan, apply_result):
    """Final per-VM entries and counts: the plan, with what ``checkpoint_type.ps1`` reported per VM."""
    return finish(the_plan, apply_result)
