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
  ``guest: {shutdown_seconds, honours_shutdown, locked}``, in virtual time (nothing sleeps):
  - a guest that honours the request is Off after ``shutdown_seconds``. The .ps1 waits for the Stop-VM job
    ``shutdown_timeout`` seconds, then watches the VM ``shutdown_grace`` more seconds: Off within the
    timeout or the grace, the VM gets its controllers and is started again. Later than that, the VM is
    still Running when the module ends, and, since the guest accepted the request, it is Off by the next
    module run (``guest.shutdown_requested``, see :func:`hvsim.world.settle`): the module reports it
    changed, with a warning.
  - a guest that does not honour it (hung, no Shutdown integration service) stays Running: changed, with
    the same warning, as the .ps1 cannot tell it from a slow one.
  - a locked guest refuses at once: Stop-VM without -Force fails with Hyper-V's return code 32781
    ("cannot be shut down without the force option"; the Stop-VM page: "-Force ... If the virtual machine
    is locked, it is shut down immediately"). Nothing changes; the VM fails.
- Every step after the shut down is guarded: whatever fails (Add-VMScsiController, Get-VM, ...), a VM this
  run shut down is started again, and the failure is that VM's result. ``faults.cmdlets`` (docs/hvsim.md)
  makes any of these cmdlets fail.
- Saved, Paused and other states are never restarted: the VM fails with its state named.
"""


from hvsim import world
from hvsim.ops import CmdletError, ModuleFail, operation, operation_vms, operations_spec, require_hyperv

MAX_CONTROLLERS = 4
DEFAULT_GUEST = {"shutdown_seconds": 30, "honours_shutdown": True, "locked": False}
LOCKED_GUEST_ERROR = ("'{name}' failed to shut down. The virtual machine cannot be shut down without the force "
                      "option because it is locked (Hyper-V return code 32781).")

# mirrors the $spec of plugins/modules/scsi_controller.ps1
SPEC = operations_spec(
    count={"type": "int", "required": True},
    restart={"type": "bool", "default": False},
)
SPEC["options"]["shutdown_timeout"] = {"type": "int", "default": 300}
SPEC["options"]["shutdown_grace"] = {"type": "int", "default": 300}
# the cmdlets of plugins/modules/scsi_controller.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = ("Hyper-V\\Get-VM", "Hyper-V\\Get-VMScsiController", "Hyper-V\\Stop-VM", "Hyper-V\\Add-VMScsiController",
           "Hyper-V\\Start-VM")


def _add_controller(vm):
    """Add-VMScsiController on one VM, with Hyper-V's checks."""
    if world.vm_state(vm) != "Off":
        raise CmdletError(f"Failed to add device 'Synthetic SCSI Controller': the operation cannot be performed "
                          f"while the virtual machine '{vm['name']}' is {world.vm_state(vm)}")
    if int(vm.get("scsi_controllers", 0)) >= MAX_CONTROLLERS:
        raise CmdletError(f"Failed to add device 'Synthetic SCSI Controller': '{vm['name']}' already has the "
                          f"maximum of {MAX_CONTROLLERS} SCSI controllers")
    vm["scsi_controllers"] = int(vm.get("scsi_controllers", 0)) + 1


def _watch_state(ctx, vm):
    """The state a Get-VM of the watch reads, or None when that read fails (the .ps1 goes on watching
    until the grace period ends, so the last read decides)."""
    try:
        ctx.cmdlet("Get-VM", [vm])
    except CmdletError:
        return None
    return world.vm_state(vm)


def _shut_down(ctx, vm, timeout, grace):
    """Stop-VM (no -Force / -TurnOff) as a job, Wait-Job -Timeout, then watch the VM for the grace period.

    Returns ``(state, job_error)``: ``state`` is ``Off`` when the VM is Off in time, else the state the
    last read saw (None when it could not be read); ``job_error`` is the message of a Stop-VM that failed
    at once (a locked guest, a fault), with the VM untouched. A guest that honours the request but needs
    longer than timeout + grace is Off by the next module run."""
    guest = dict(DEFAULT_GUEST, **(vm.get("guest") or {}))
    try:
        ctx.cmdlet("Stop-VM", [vm], reads_configuration=True)
        if guest["locked"]:
            raise CmdletError(LOCKED_GUEST_ERROR.format(name=vm["name"]))
    except CmdletError as err:
        return _watch_state(ctx, vm), str(err)
    seconds, honours = int(guest["shutdown_seconds"]), bool(guest["honours_shutdown"])
    if honours and seconds <= timeout:
        vm["state"] = "Off"          # the job completes: Stop-VM returns once the VM is Off
        return "Off", None
    if honours and seconds <= timeout + grace:
        vm["state"] = "Off"          # Off during the watch
    elif honours:
        vm["guest"] = dict(vm.get("guest") or {}, shutdown_requested=True)
    return _watch_state(ctx, vm), None


def _read_back(ctx, vm, item, count):
    """Read the controllers back into ``after``; a VM reported changed that has fewer than ``count`` fails
    (the change did not take). A read that fails leaves ``after`` as what this run did, with a warning."""
    try:
        ctx.cmdlet("Get-VM", [vm])
        ctx.cmdlet("Get-VMScsiController", [vm], reads_configuration=True)
    except CmdletError as err:
        ctx.warn(f"scsi_controller: reading the SCSI controllers of '{vm['name']}' back failed, so 'after' says "
                 f"what this run did: {err}")
        return
    have = int(vm.get("scsi_controllers", 0))
    item["after"] = {"ScsiControllers": have}
    if item["status"] == "changed" and item.get("shutdown") != "unfinished" and have < count:
        item.update(status="failed", error=f"Add-VMScsiController returned without an error, but '{vm['name']}' "
                                           f"has {have} SCSI controller(s) where {count} were asked")


def _shown(state):
    return state if state is not None else "in a state that could not be read"


@operation("scsi_controller", SPEC)
def scsi_controller(ctx, params):
    result = ctx.result
    result["changed"] = False
    timeout, grace = params["shutdown_timeout"], params["shutdown_grace"]
    if timeout < 1:
        raise ModuleFail(f"scsi_controller: shutdown_timeout {timeout} must be at least 1 second")
    if grace < 0:
        raise ModuleFail(f"scsi_controller: shutdown_grace {grace} must be 0 or more seconds")
    for index, op in enumerate(params["operations"]):
        if not 1 <= op["count"] <= MAX_CONTROLLERS:
            raise ModuleFail(f"scsi_controller: operations[{index}].count {op['count']} is out of range; "
                             f"a VM has 1 to {MAX_CONTROLLERS} SCSI controllers")
    require_hyperv(ctx, "scsi_controller")
    result["vms"] = []

    for op, item, vm in operation_vms(ctx, params, result, restarted=False, shutdown="none"):
        name = vm["name"]
        shut_down_here = touched = False
        step = f"reading the SCSI controllers of '{name}' failed"
        try:
            ctx.cmdlet("Get-VMScsiController", [vm], reads_configuration=True)
            have = int(vm.get("scsi_controllers", 0))
            item["before"] = {"ScsiControllers": have}
            item["after"] = {"ScsiControllers": have}
            need = op["count"] - have
            if need <= 0:
                continue
            state = world.vm_state(vm)
            if state != "Off" and not (op["restart"] and state == "Running"):
                item.update(status="failed",
                            error=f"'{name}' is {state}; Hyper-V adds a SCSI controller only while the VM is Off")
                continue
            if ctx.check_mode:
                item.update(status="changed", after={"ScsiControllers": op["count"]})
                result["changed"] = True
                continue

            if state == "Running":
                step = f"shutting '{name}' down failed"
                now, job_error = _shut_down(ctx, vm, timeout, grace)
                if now != "Off" and job_error is not None and now in ("Running", None):
                    item.update(status="failed", shutdown="refused",
                                error=f"'{name}' did not shut down: {job_error}; it is left {_shown(now)}")
                    continue
                ctx.mark_changed()
                result["changed"] = touched = True
                if now != "Off":
                    reason = (f"'{name}' was asked to shut down and is still {_shown(now)} after {timeout} s and "
                              f"{grace} s of grace, so it has no new SCSI controller; if it shuts down later it "
                              "stays Off: start it again (Start-VM) and run this task again")
                    item.update(status="changed", shutdown="unfinished", state=now, reason=reason)
                    ctx.warn(f"scsi_controller: {reason}")
                    continue
                shut_down_here = True
                item["shutdown"] = "completed"
            step = f"adding a SCSI controller to '{name}' failed"
            touched = True
            for added in range(1, need + 1):
                if ctx.cmdlet("Add-VMScsiController", [vm], reads_configuration=True):
                    _add_controller(vm)
                    ctx.mark_changed()
                result["changed"] = True
                item["after"] = {"ScsiControllers": have + added}
            item["status"] = "changed"
        except CmdletError as err:
            item.update(status="failed", error=f"{step}: {err}")
        finally:
            if shut_down_here:
                try:
                    ctx.cmdlet("Start-VM", [vm], reads_configuration=True)
                    vm["state"] = "Running"
                    ctx.mark_changed()
                    item["restarted"] = True
                except CmdletError as err:
                    not_started = f"'{name}' was shut down but did not start again: {err}; it is left Off"
                    if item["status"] == "failed" and item.get("error"):
                        # As the .ps1: keep what failed first (adding the controller), then say the VM is left Off.
                        not_started = f"{item['error']}; then {not_started}"
                    item.update(status="failed", error=not_started)
            if touched:
                _read_back(ctx, vm, item, op["count"])
    return result
