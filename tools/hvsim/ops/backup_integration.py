"""plugins/modules/backup_integration.ps1 in Python: enable or disable the Backup (volume shadow copy)
integration service of VMs of the node serving the request, each found by its integration component ID and
read back (docs/windows-contract.md, backup_integration).

Hyper-V behaviour modelled here (sources in :mod:`hvsim.world`, "integration services"):

- ``Get-VMIntegrationService`` lists every integration service of the VM with a localized ``Name`` (the node's
  ``display_language``) and an ``Id`` ending with the integration component GUID; the VSS one is found by the
  GUID, as the .ps1 does, so a German or Japanese name makes no difference. A VM whose model says
  ``backup_integration: null`` has no VSS component.
- ``Enable-`` / ``Disable-VMIntegrationService`` change an Off or Running VM; any other state fails (the
  strictest case); a VM in a critical state fails every call that reads its configuration.
- ``faults.cmdlets`` apply to every call; ``ignore`` on Enable-VMIntegrationService makes it return without
  changing anything, which the read-back catches.
"""
from hvsim import world
from hvsim.ops import CmdletError, operation, operation_vms, operations_spec, require_hyperv

# mirrors the $spec of plugins/modules/backup_integration.ps1
SPEC = operations_spec(enabled={"type": "bool", "required": True})
# the cmdlets of plugins/modules/backup_integration.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = ("Hyper-V\\Get-VM", "Hyper-V\\Get-VMIntegrationService", "Hyper-V\\Enable-VMIntegrationService",
           "Hyper-V\\Disable-VMIntegrationService")


def _service(ctx, node, vm):
    """Get-VMIntegrationService -VM, then the one whose Id ends with the VSS component's GUID (or None)."""
    ctx.cmdlet("Get-VMIntegrationService", [vm], reads_configuration=True)
    return world.find_integration_service(world.integration_services(node, vm), world.VSS_INTEGRATION_COMPONENT)


@operation("backup_integration", SPEC)
def backup_integration(ctx, params):
    result = ctx.result
    result["changed"] = False
    node = require_hyperv(ctx, "backup_integration")
    result["vms"] = []
    for op, item, vm in operation_vms(ctx, params, result):
        want = bool(op["enabled"])
        step = f"reading the integration services of '{vm['name']}' failed"
        try:
            service = _service(ctx, node, vm)
            if service is None:
                item.update(status="failed", error=f"'{vm['name']}' has no Backup (volume shadow copy) integration "
                                                   f"service (integration component {world.VSS_INTEGRATION_COMPONENT})")
                continue
            item.update(before={"Enabled": service["Enabled"]}, after={"Enabled": service["Enabled"]},
                        guest_status=service["PrimaryStatusDescription"])
            if service["Enabled"] == want:
                continue
            if ctx.check_mode:
                item.update(status="changed", after={"Enabled": want})
                result["changed"] = True
                continue
            verb = "Enable" if want else "Disable"
            step = f"{'enabling' if want else 'disabling'} the Backup integration service of '{vm['name']}' failed"
            if ctx.cmdlet(f"{verb}-VMIntegrationService", [vm], reads_configuration=True):
                try:
                    world.set_backup_integration(vm, want)
                except world.WorldError as err:
                    raise CmdletError(str(err)) from None
                ctx.mark_changed()
            item["status"] = "changed"
            result["changed"] = True

            step = f"reading the Backup integration service of '{vm['name']}' back failed"
            current = _service(ctx, node, vm)
            if current is None:
                raise CmdletError("it is no longer listed")
            item.update(after={"Enabled": current["Enabled"]}, guest_status=current["PrimaryStatusDescription"])
            if current["Enabled"] != want:
                state = "enabled" if current["Enabled"] else "disabled"
                item.update(status="failed", error=f"{verb}-VMIntegrationService returned without an error, but the "
                                                   f"Backup integration service of '{vm['name']}' is still {state}")
        except CmdletError as err:
            item.update(status="failed", error=f"{step}: {err}")
    return result
