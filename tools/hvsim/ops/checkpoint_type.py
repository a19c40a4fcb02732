"""plugins/modules/checkpoint_type.ps1 in Python: ``Set-VM -CheckpointType / -AutomaticCheckpointsEnabled``
on the VMs of the node serving the request (docs/windows-contract.md, checkpoint_type).

Hyper-V's rules modelled here:

- ``Get-VM -Id`` finds only VMs registered on the host it runs on; another ID fails with
  "Hyper-V was unable to find a virtual machine with ID ..." (a per-VM failure here, as the .ps1 reports it).
- ``-CheckpointType`` takes Disabled, Production, ProductionOnly or Standard and can be changed whatever
  the VM's state (Set-VM, https://learn.microsoft.com/powershell/module/hyper-v/set-vm; "Choose between
  standard or production checkpoints", https://learn.microsoft.com/windows-server/virtualization/hyper-v/
  manage/choose-between-standard-or-production-checkpoints-in-hyper-v, changes it on a running VM).
- ``-AutomaticCheckpointsEnabled`` exists from Windows build 16299 (version 1709); on an older host the
  .ps1 reports the VM as failed, naming the build. ``Get-VM`` shows the setting as null there.
"""


from hvsim import world
from hvsim.ops import operation, operation_vms, operations_spec

CHECKPOINT_TYPES = ["Disabled", "Production", "ProductionOnly", "Standard"]
AUTOMATIC_CHECKPOINTS_MIN_BUILD = 16299

# mirrors the $spec of plugins/modules/checkpoint_type.ps1
SPEC = operations_spec(
    checkpoint_type={"type": "str", "choices": CHECKPOINT_TYPES},
    automatic_checkpoints={"type": "bool"},
)
# the cmdlets of plugins/modules/checkpoint_type.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = ("Hyper-V\\Get-VM", "Hyper-V\\Set-VM")


def _setting(vm, supported):
    return {"CheckpointType": vm.get("checkpoint_type", "Production"),
            "AutomaticCheckpointsEnabled": bool(vm.get("automatic_checkpoints")) if supported else None}


@operation("checkpoint_type", SPEC)
def checkpoint_type(ctx, params):
    node = world.find_node(ctx.data, ctx.node)
    build = int(node.get("os_build", 20348))
    supported = build >= AUTOMATIC_CHECKPOINTS_MIN_BUILD
    result = {"changed": False, "vms": []}
    for op, item, vm in operation_vms(ctx, params, result):
        item["before"] = _setting(vm, supported)

        changes = {}
        if op.get("checkpoint_type") is not None and vm.get("checkpoint_type") != op["checkpoint_type"]:
            changes["checkpoint_type"] = op["checkpoint_type"]
        if op.get("automatic_checkpoints") is not None:
            if not supported:
                item.update(status="failed", after=dict(item["before"]),
                            error=f"automatic checkpoints need Windows build {AUTOMATIC_CHECKPOINTS_MIN_BUILD} "
                                  f"(version 1709) or later; {node['name'].upper()} runs build {build}")
                continue
            if bool(vm.get("automatic_checkpoints")) != op["automatic_checkpoints"]:
                changes["automatic_checkpoints"] = op["automatic_checkpoints"]
        if not changes:
            item["after"] = dict(item["before"])
            continue
        item["status"] = "changed"
        result["changed"] = True
        if ctx.check_mode:
            would = dict(vm, **changes)
            item["after"] = _setting(would, supported)
            continue
        vm.update(changes)
        ctx.mark_changed()
        item["after"] = _setting(vm, supported)
    return result
