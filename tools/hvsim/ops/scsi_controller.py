"""plugins/modules/scsi_controller.ps1 in Python: ``Add-VMScsiController`` until each VM has ``count``
controllers, shutting a Running VM down gracefully first when the operation says ``restart``
(docs/windows-contract.md, scsi_controller).

Hyper-V's rules modelled here:

- ``Get-VM -Id`` finds only VMs registered on the host it runs on; another ID fails with
  "Hyper-V was unable to find a virtual machine with ID ...".
- A VM has at most 4 SCSI controllers (Hyper-V maximums, "Plan for Hyper-V scalability in Windows
  Server", https://learn.microsoft.com/windows-server/virtualization/hyper-v/plan/plan-hyper-v-scalability-in-windows-server).
- A SCSI controller is added only while the VM is Off. Microsoft's Add-VMScsiController page
  (https://learn.microsoft.com/powershell/module/hyper-v/add-vmscsicontroller) does not say; dsccommunity
  HyperVDsc's DSC_VMScsiController refuses a VM that is not Off unless RestartIfNeeded is set, and this
  simulation is as strict.
- ``Stop-VM`` without ``-Force`` / ``-TurnOff`` asks the guest to shut down
  (https://learn.microsoft.com/powershell/module/hyper-v/stop-vm). The guest's reaction is the model's
  ``guest: {shutdown_seconds, honours_shutdown}``: it is Off after ``shutdown_seconds`` of virtual time
  if it honours the request; the .ps1 waits at most ``shutdown_timeout`` seconds. Nothing sleeps.
  A guest that does not make it in time is left Running and reported failed.
- Saved, Paused and other states are never restarted: the VM fails with its state named.
"""


from hvsim import world
from hvsim.ops import ModuleFail, operation, operation_vms, operations_spec

MAX_CONTROLLERS = 4
DEFAULT_GUEST = {"shutdown_seconds": 30, "honours_shutdown": True}

# mirrors the $spec of plugins/modules/scsi_controller.ps1
SPEC = operations_spec(
    count={"type": "int", "required": True},
    restart={"type": "bool", "default": False},
)
SPEC["options"]["shutdown_timeout"] = {"type": "int", "default": 300}
# the cmdlets of plugins/modules/scsi_controller.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = ("Hyper-V\\Get-VM", "Hyper-V\\Get-VMScsiController", "Hyper-V\\Stop-VM", "Hyper-V\\Add-VMScsiController",
           "Hyper-V\\Start-VM")


def _add_controller(vm):
    """Add-VMScsiController on one VM, with Hyper-V's checks."""
    if world.vm_state(vm) != "Off":
        raise ValueError(f"Failed to add device 'Synthetic SCSI Controller': the operation cannot be performed "
                         f"while the virtual machine '{vm['name']}' is {world.vm_state(vm)}")
    if int(vm.get("scsi_controllers", 0)) >= MAX_CONTROLLERS:
        raise ValueError(f"Failed to add device 'Synthetic SCSI Controller': '{vm['name']}' already has the "
                         f"maximum of {MAX_CONTROLLERS} SCSI controllers")
    vm["scsi_controllers"] = int(vm.get("scsi_controllers", 0)) + 1


def _graceful_shutdown(vm, timeout):
    """Stop-VM (no -Force / -TurnOff) as a job, Wait-Job -Timeout: True if the VM is Off in time."""
    guest = dict(DEFAULT_GUEST, **(vm.get("guest") or {}))
    if guest["honours_shutdown"] and int(guest["shutdown_seconds"]) <= timeout:
        vm["state"] = "Off"
        return True
    return False


@operation("scsi_controller", SPEC)
def scsi_controller(ctx, params):
    timeout = params["shutdown_timeout"]
    if timeout < 1:
        raise ModuleFail(f"scsi_controller: shutdown_timeout {timeout} must be at least 1 second")
    for index, op in enumerate(params["operations"]):
        if not 1 <= op["count"] <= MAX_CONTROLLERS:
            raise ModuleFail(f"scsi_controller: operations[{index}].count {op['count']} is out of range; "
                             f"a VM has 1 to {MAX_CONTROLLERS} SCSI controllers")

    result = {"changed": False, "vms": []}
    for op, item, vm in operation_vms(ctx, params, result, restarted=False):
        have = int(vm.get("scsi_controllers", 0))
        item["before"] = {"ScsiControllers": have}
        item["after"] = {"ScsiControllers": have}
        need = op["count"] - have
        if need <= 0:
            continue
        state = world.vm_state(vm)
        if state != "Off" and not (op["restart"] and state == "Running"):
            item.update(status="failed",
                        error=f"'{vm['name']}' is {state}; Hyper-V adds a SCSI controller only while the VM is Off")
            continue
        restart = state == "Running"
        if ctx.check_mode:
            item.update(status="changed", after={"ScsiControllers": op["count"]})
            result["changed"] = True
            continue

        if restart:
            if not _graceful_shutdown(vm, timeout):
                item.update(status="failed",
                            error=f"'{vm['name']}' did not shut down within {timeout} s; it was asked to shut "
                                  f"down and is left {world.vm_state(vm)}")
                continue
            ctx.mark_changed()
            result["changed"] = True
        try:
            for _ in range(need):
                _add_controller(vm)
                ctx.mark_changed()
                result["changed"] = True
            item["status"] = "changed"
        except ValueError as err:
            item.update(status="failed", error=f"adding a SCSI controller to '{vm['name']}' failed: {err}")
        if restart:
            vm["state"] = "Running"
            item["restarted"] = True
        item["after"] = {"ScsiControllers": int(vm["scsi_controllers"])}
    return result
