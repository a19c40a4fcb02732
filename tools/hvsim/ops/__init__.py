"""The PowerShell modules of the collection, as Python implementations of docs/windows-contract.md.

Each module file registers one operation with :func:`operation`. :func:`run` is what an endpoint calls
once it has decoded a module payload: it validates the arguments as ``Ansible.Basic`` would on a real
host, runs the operation against the model data and returns the module's result dict.
"""
import importlib
import pkgutil
from dataclasses import dataclass, field

from hvsim import world

MODULE_PREFIX = "ansible_collections.hyperv.backup.plugins.modules."

OPERATIONS = {}


class ModuleFail(Exception):
    """Raised by an operation to fail the module, as ``$module.FailJson(msg)`` does.

    As on a host, the failed result carries every field of the module's ``Result`` set so far
    (:attr:`Context.result`), then the ``result`` given here, then ``failed`` and ``msg``."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


class CmdletError(Exception):
    """A cmdlet that throws on the host (a terminating error under ``-ErrorAction Stop``); ``str()`` is
    the exception's message, which the .ps1 modules report."""


@dataclass
class Operation:
    name: str
    spec: dict
    func: object


@dataclass
class Context:
    """What an operation sees: the node serving the request and the model data (a mutable dict).

    ``result`` is the module's ``$module.Result``: an operation that fills it and then raises
    :class:`ModuleFail` returns those fields too, as ``FailJson`` does. :meth:`cmdlet` is how an operation
    calls a cmdlet of the host, so that the model's ``faults.cmdlets`` and ``faults.vanishing_vms`` apply.
    """

    node: str
    data: dict
    module: str = ""                                # the short name of the module being run
    check_mode: bool = False
    diff: bool = False
    changed_model: bool = False
    warnings: list = field(default_factory=list)
    result: dict = field(default_factory=dict)
    listed: set = field(default_factory=set)        # VM ids a Get-VM of this module run has returned
    fault_hits: dict = field(default_factory=dict)  # faults.cmdlets index -> matching calls so far

    def mark_changed(self):
        """Call after changing ``data``: the model is then saved when the operation returns."""
        self.changed_model = True

    def warn(self, msg):
        self.warnings.append(msg)

    def _cmdlet_faults(self, name, vms):
        """``(index, entry)`` of the ``faults.cmdlets`` entries that apply to a call of ``name`` for ``vms``."""
        faults = (self.data.get("faults") or {}).get("cmdlets") or []
        for index, entry in enumerate(faults):
            if str(entry.get("cmdlet", "")).lower() != name.lower():
                continue
            if entry.get("node") and str(entry["node"]).lower() != str(self.node).lower():
                continue
            if entry.get("module") and str(entry["module"]).lower() != self.module.lower():
                continue
            if entry.get("vm") and not any(world.matches_vm(vm, entry["vm"]) for vm in vms):
                continue
            yield index, entry

    def _vanishing(self, vm):
        names = (self.data.get("faults") or {}).get("vanishing_vms") or []
        return any(world.matches_vm(vm, name) for name in names)

    def cmdlet(self, name, vms=(), reads_configuration=False):
        """One call of cmdlet ``name`` on this node, for the VM dicts ``vms`` (one call for all of them).

        Raises :class:`CmdletError` as the host would: a VM of ``faults.vanishing_vms`` that an earlier
        Get-VM of this run returned is gone (moved to another node); a matching ``faults.cmdlets`` entry
        fails the calls after its first ``after`` matching calls (``times`` of them at most, when it says);
        with ``reads_configuration``, a
        VM in a critical state fails it (:func:`hvsim.world.is_critical`). Returns False when a matching
        entry says ``ignore`` (the cmdlet returns without an error and does nothing), True otherwise. A
        Get-VM call records the VMs it returned: a vanishing VM is gone only after that."""
        vms = list(vms)
        for vm in vms:
            vm_id = str(vm.get("id", "")).lower()
            if vm_id in self.listed and self._vanishing(vm):
                raise CmdletError(world.vm_not_found(vm_id))
        outcome = True
        for index, entry in self._cmdlet_faults(name, vms):
            if "property" in entry:
                continue
            self.fault_hits[index] = self.fault_hits.get(index, 0) + 1
            after = int(entry.get("after", 0))
            if self.fault_hits[index] <= after:
                continue
            if "times" in entry and self.fault_hits[index] > after + int(entry["times"]):
                continue
            if entry.get("ignore"):
                outcome = False
                continue
            raise CmdletError(entry.get("message") or f"{name} failed (hvsim fault injection)")
        if reads_configuration:
            for vm in vms:
                if world.is_critical(world.vm_state(vm)):
                    raise CmdletError(world.critical_error(vm))
        if name.lower() == "get-vm":
            self.listed.update(str(vm.get("id", "")).lower() for vm in vms)
        return outcome

    def property_error(self, vm, prop):
        """The message that reading ``prop`` of this VM's Get-VM object throws with, or None (the
        ``faults.cmdlets`` entries of Get-VM with ``property``)."""
        for _, entry in self._cmdlet_faults("Get-VM", [vm]):
            if str(entry.get("property", "")).lower() == prop.lower():
                return entry.get("message") or f"reading {prop} failed (hvsim fault injection)"
        return None


def require_hyperv(ctx, module_name):
    """``Import-HyperVModule``: fail the module, as the .ps1 does, when the node has no Hyper-V module.
    Returns the model's node."""
    node = world.find_node(ctx.data, ctx.node)
    if node.get("hyperv_module", True) is False:
        raise ModuleFail(f"{module_name}: the Hyper-V PowerShell module is not available on {node['name'].upper()}; "
                         "install the Hyper-V management tools")
    try:
        ctx.cmdlet("Import-Module")
    except CmdletError as err:
        raise ModuleFail(f"{module_name}: importing the Hyper-V PowerShell module on {node['name'].upper()} "
                         f"failed: {err}") from None
    return node


def operations_spec(**item_options):
    """The spec of an apply module: ``operations``, a required list of ``{id, name, ...item_options}``,
    one per VM, as the .ps1 modules declare it. Extra top-level options go in the returned dict's ``options``."""
    options = {"id": {"type": "str", "required": True}, "name": {"type": "str", "required": True}}
    options.update(item_options)
    return {
        "options": {"operations": {"type": "list", "elements": "dict", "required": True, "options": options}},
        "supports_check_mode": True,
    }


def operation_vms(ctx, params, result, **item_defaults):
    """For each of ``params['operations']``, in order, as the .ps1's Get-OperationVM does: append its item
    (``id``, ``name``, ``status: ok`` and ``item_defaults``) to ``result['vms']``, mark it failed with
    Get-VM's reason when the VM is not on this node, and yield ``(op, item, vm)`` for the VMs found."""
    for op in params["operations"]:
        item = {"id": op["id"], "name": op["name"], "status": "ok", **item_defaults}
        result["vms"].append(item)
        vm, error = world.get_vm(ctx.data, ctx.node, op["id"])
        if vm is not None:
            try:
                ctx.cmdlet("Get-VM", [vm])
            except CmdletError as err:
                vm, error = None, str(err)
        if error:
            item.update(status="failed", error=error)
            continue
        item["name"] = vm["name"]
        yield op, item, vm


def operation(name, spec):
    """Register ``func(ctx, params) -> dict`` as the implementation of ``plugins/modules/<name>.ps1``."""

    def register(func):
        OPERATIONS[name] = Operation(name=name, spec=spec, func=func)
        return func

    return register


def load_all():
    """Import every module of this package so that each registers its operation."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return OPERATIONS


def short_name(script_name):
    """``ansible_collections.hyperv.backup.plugins.modules.host_facts.ps1`` -> ``host_facts`` (or None)."""
    if script_name.startswith(MODULE_PREFIX) and script_name.endswith(".ps1"):
        return script_name[len(MODULE_PREFIX):-len(".ps1")]
    return None


def _full_name(name_or_script):
    if name_or_script.endswith(".ps1") or "." in name_or_script:
        return name_or_script
    return f"{MODULE_PREFIX}{name_or_script}.ps1"


def run(name_or_script, node, data, args, on_model_change=None):
    """Run one module as a host would and return its result dict.

    ``name_or_script`` is the payload's script name (``ansible_collections.hyperv.backup.plugins.modules.
    host_facts.ps1``) or the short name (``host_facts``); ``data`` the model data (the caller holds the
    model's lock); ``args`` the ``complex_args`` (user arguments plus ``_ansible_*`` keys).
    ``on_model_change`` is called when the operation marked the model changed (also when it then failed:
    a host keeps what it changed before an error).

    As ``Ansible.Basic`` does: arguments are validated first (their failures are module failures), check
    mode on a module without ``supports_check_mode`` is skipped, ``changed`` defaults to False, warnings
    go to ``warnings``, ``diff`` is only returned in diff mode, ``invocation.module_args`` is added
    (unless ansible-core 2.21+ asked not to). An unexpected exception fails the module with its text
    and an ``exception`` traceback, as an unhandled error on a host does.
    """
    import traceback

    from hvsim import argspec

    full = _full_name(name_or_script)
    op = OPERATIONS.get(short_name(full) or "")
    if op is None:
        return {"changed": False, "failed": True, "msg": f"hvsim does not implement the module '{full}'"}

    try:
        prepared = argspec.prepare(op.spec, args)
    except argspec.ArgSpecFail as exc:
        return {"changed": False, "failed": True, "msg": exc.msg}
    except argspec.ArgSpecInvalid as exc:
        return {"changed": False, "failed": True, "msg": f"internal error: {exc}",
                "exception": traceback.format_exc()}
    if prepared.skipped is not None:
        result = dict(prepared.skipped)
        if prepared.inject_invocation:
            result["invocation"] = prepared.invocation()
        return result

    ctx = Context(node=node, data=data, module=op.name, check_mode=prepared.check_mode, diff=prepared.diff)
    if world.settle(data):
        ctx.mark_changed()
    try:
        returned = op.func(ctx, prepared.params)
        if returned is None:
            returned = {}
        if not isinstance(returned, dict):
            raise TypeError(f"operation {op.name} returned {type(returned).__name__}, not a dict")
        result = {"changed": False}
        result.update(returned)
    except ModuleFail as fail:
        result = {"changed": False}
        result.update(ctx.result)
        result.update(fail.result)
        result["failed"] = True
        result["msg"] = fail.msg
    except Exception as exc:  # an unhandled error in the module, as a host reports it
        result = {"changed": False, "failed": True,
                  "msg": f"Unhandled exception while executing module: {exc}",
                  "exception": traceback.format_exc()}
    if ctx.changed_model and on_model_change is not None:
        on_model_change()
    if not prepared.diff:
        result.pop("diff", None)
    warnings = list(result.get("warnings") or []) + list(ctx.warnings)
    if warnings:
        result["warnings"] = warnings
    if prepared.inject_invocation and "invocation" not in result:
        result["invocation"] = prepared.invocation()
    return result
