"""plugins/modules/checkpoint_type.ps1 in Python: ``Set-VM -CheckpointType / -AutomaticCheckpointsEnabled``
on the VMs of the node serving the request, each read back and verified (docs/windows-contract.md,
checkpoint_type).

Hyper-V's rules modelled here:

- ``Get-VM -Id`` finds only VMs registered on the host it runs on; another ID fails with
  "Hyper-V was unable to find a virtual machine with ID ..." (a per-VM failure here, as the .ps1 reports it).
- ``-CheckpointType`` takes Disabled, Production, ProductionOnly or Standard and can be changed whatever
  the VM's state (Set-VM, https://learn.microsoft.com/powershell/module/hyper-v/set-vm; "Choose between
  standard or production checkpoints", https://learn.microsoft.com/windows-server/virtualization/hyper-v/
  manage/choose-between-standard-or-production-checkpoints-in-hyper-v, changes it on a running VM).
  ``Ansible.Basic`` accepts a choice in any case and passes it on as spelt (``production``); PowerShell
  converts it to the enumeration whatever its case, so the VM gets ``Production``.
- Production checkpoints need VM configuration version 6.2 or later ("Supported virtual machine
  configuration versions", https://learn.microsoft.com/windows-server/virtualization/hyper-v/deploy/
  upgrade-virtual-machine-version-in-hyper-v-on-windows-or-windows-server). Microsoft does not say what
  Set-VM does with an older VM; hvsim takes the strictest case: it returns without an error and the type
  does not change, so only reading the VM back shows it. The .ps1 reads every VM back after Set-VM and
  fails a VM whose setting did not take. ``faults.cmdlets`` with ``ignore: true`` makes Set-VM do the same
  to any VM.
- Whether ``-AutomaticCheckpointsEnabled`` exists is asked of the host (``Get-Command``), see
  :func:`hvsim.world.set_vm_parameters`; where it does not, the .ps1 reports the VM as failed, naming the
  node, and ``Get-VM`` shows the setting as null.
- A VM in a critical state cannot be changed (see :mod:`hvsim.world`).
"""


from hvsim import world
from hvsim.ops import CmdletError, operation, operation_vms, operations_spec, require_hyperv

CHECKPOINT_TYPES = ["Disabled", "Production", "ProductionOnly", "Standard"]
PRODUCTION_MIN_VERSION = (6, 2)

# mirrors the $spec of plugins/modules/checkpoint_type.ps1
SPEC = operations_spec(
    checkpoint_type={"type": "str", "choices": CHECKPOINT_TYPES},
    automatic_checkpoints={"type": "bool"},
)
# the cmdlets of plugins/modules/checkpoint_type.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = ("Hyper-V\\Get-VM", "Hyper-V\\Set-VM")


def canonical_type(value):
    """The enumeration value PowerShell converts ``value`` to (case-insensitive)."""
    return next(known for known in CHECKPOINT_TYPES if known.lower() == str(value).lower())


def _version(vm):
    try:
        return tuple(int(part) for part in str(vm.get("version", "10.0")).split(".")[:2])
    except ValueError:
        return (0, 0)


def _setting(vm, supported):
    return {"CheckpointType": vm.get("checkpoint_type", "Production"),
            "AutomaticCheckpointsEnabled": bool(vm.get("automatic_checkpoints")) if supported else None}


def _set_vm(ctx, vm, changes):
    """Set-VM with the given changes; an old configuration version keeps its type (see the docstring)."""
    if not ctx.cmdlet("Set-VM", [vm], reads_configuration=True):
        return
    changes = dict(changes)
    kind = changes.get("checkpoint_type")
    if kind in ("Production", "ProductionOnly") and _version(vm) < PRODUCTION_MIN_VERSION:
        changes.pop("checkpoint_type")
    vm.update(changes)


def _not_taken(vm, wanted, after):
    """The per-VM error when a setting read back differs from what Set-VM was given, or None."""
    problems = [f"{key} is {after[key]} (asked: {wanted[key]})" for key in sorted(wanted) if after[key] != wanted[key]]
    if not problems:
        return None
    message = f"Set-VM returned without an error, but '{vm['name']}' still has other settings: {'; '.join(problems)}"
    if wanted.get("CheckpointType") in ("Production", "ProductionOnly") and _version(vm) < PRODUCTION_MIN_VERSION:
        message += (f". Production checkpoints need VM configuration version 6.2 or later and '{vm['name']}' has "
                    f"{vm.get('version')}: update it with Update-VMVersion while it is Off")
    return message


@operation("checkpoint_type", SPEC)
def checkpoint_type(ctx, params):
    result = ctx.result
    result["changed"] = False
    node = require_hyperv(ctx, "checkpoint_type")
    build = int(node.get("os_build", 20348))
    supported = world.has_set_vm_parameter(node, "AutomaticCheckpointsEnabled")
    result["vms"] = []
    for op, item, vm in operation_vms(ctx, params, result):
        item["before"] = _setting(vm, supported)
        wanted = {}
        if op.get("checkpoint_type") is not None:
            kind = canonical_type(op["checkpoint_type"])
            if vm.get("checkpoint_type") != kind:
                wanted["CheckpointType"] = kind
        if op.get("automatic_checkpoints") is not None:
            if not supported:
                item.update(status="failed", after=dict(item["before"]),
                            error=f"automatic checkpoints are not available on {node['name'].upper()} (build {build}): "
                                  "its Set-VM has no AutomaticCheckpointsEnabled parameter")
                continue
            if bool(vm.get("automatic_checkpoints")) != op["automatic_checkpoints"]:
                wanted["AutomaticCheckpointsEnabled"] = op["automatic_checkpoints"]
        if not wanted:
            item["after"] = dict(item["before"])
            continue
        if ctx.check_mode:
            item.update(status="changed", after=dict(item["before"], **wanted))
            result["changed"] = True
            continue
        changes = {"checkpoint_type": wanted.get("CheckpointType"),
                   "automatic_checkpoints": wanted.get("AutomaticCheckpointsEnabled")}
        item["after"] = dict(item["before"])
        try:
            _set_vm(ctx, vm, {key: value for key, value in changes.items() if value is not None})
        except CmdletError as err:
            item.update(status="failed", error=str(err))
            continue
        ctx.mark_changed()
        item["status"] = "changed"
        result["changed"] = True
        try:
            ctx.cmdlet("Get-VM", [vm])
        except CmdletError as err:
            item.update(status="failed", error=f"reading '{vm['name']}' back after Set-VM failed: {err}")
            continue
        item["after"] = _setting(vm, supported)
        error = _not_taken(vm, wanted, item["after"])
        if error:
            item.update(status="failed", error=error)
    return result
