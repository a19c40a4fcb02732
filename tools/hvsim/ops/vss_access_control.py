"""plugins/modules/vss_access_control.ps1 in Python: set and remove the REG_DWORD values under
``HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl`` of the node serving the request, each
read back, after resolving account names when asked (docs/windows-contract.md, vss_access_control).

Windows behaviour modelled here, with its source:

- The key is per host: ``nodes[].vss_access_control`` is the key of that node (value name -> data; an int
  is a REG_DWORD, a string a REG_SZ), absent or null when the key does not exist. ``CreateSubKey`` creates it
  (https://learn.microsoft.com/dotnet/api/microsoft.win32.registrykey.createsubkey), only when there is a
  value to set; removing from a key that does not exist removes nothing.
- Value names are compared without regard to case (RegDeleteValue,
  https://learn.microsoft.com/windows/win32/api/winreg/nf-winreg-regdeletevaluew): a value that exists
  under another spelling is the same value, and keeps its name when it is written
  (:func:`hvsim.world.find_value`). Value names may hold any character but NUL, backslashes included
  ("Registry Element Size Limits", https://learn.microsoft.com/windows/win32/sysinfo/registry-element-size-limits).
- ``NTAccount.Translate([SecurityIdentifier])`` resolves a name on the node it runs on: an account of the
  model's ``accounts`` or a well-known one resolves everywhere, ``NT VIRTUAL MACHINE\\<GUID>`` only where
  the VM is registered; anything else throws ``IdentityNotMappedException`` (:class:`hvsim.world.Resolver`).
- ``faults.registry_writes`` (``{node?, name?, message?}``): ``SetValue``/``DeleteValue`` of that value
  throws (default: "Requested registry access is not allowed.", the SecurityException of a write the
  account may not make); that account fails, the others go on.
"""
from hvsim import world
from hvsim.ops import ModuleFail, operation

ACCESS_VALUES = (0, 1, 2, 3)

SPEC = {  # mirrors the $spec of plugins/modules/vss_access_control.ps1
    "options": {
        "operations": {
            "type": "list", "elements": "dict", "default": [],
            "options": {
                "action": {"type": "str", "required": True, "choices": ["set", "remove"]},
                "name": {"type": "str", "required": True},
                "value": {"type": "int"},
            },
        },
        "resolve": {"type": "list", "elements": "str", "default": []},
    },
    "supports_check_mode": True,
}
# the cmdlets of plugins/modules/vss_access_control.ps1 whose behaviour this models: none, it works through
# .NET (Microsoft.Win32.RegistryKey, System.Security.Principal.NTAccount)
CMDLETS = ()


def _check_arguments(params):
    for index, op in enumerate(params["operations"]):
        if not op["name"]:
            raise ModuleFail(f"vss_access_control: operations[{index}].name is empty; a VssAccessControl value is "
                             "named after an account")
        if op["action"].lower() == "set" and op.get("value") not in ACCESS_VALUES:
            raise ModuleFail(f"vss_access_control: operations[{index}].value {op.get('value')} is not a VssAccessControl "
                             "value (0 deny, 1 writer, 2 requester, 3 both)")
    for index, name in enumerate(params["resolve"]):
        if not name:
            raise ModuleFail(f"vss_access_control: resolve[{index}] is empty")


def _is_dword(data, wanted):
    return isinstance(data, int) and not isinstance(data, bool) and data == wanted


def _set(ctx, node, values, op, item):
    name = op["name"]
    existing = world.find_value(values, name)
    if existing is not None and _is_dword(values[existing], op["value"]):
        return
    if ctx.check_mode:
        item.update(status="changed", after=op["value"])
        return
    error = world.registry_write_error(ctx.data, node["name"], name)
    if error:
        item.update(status="failed", error=f"writing '{name}' failed: {error}")
        return
    values[existing if existing is not None else name] = op["value"]
    ctx.mark_changed()
    ctx.result["changed"] = True
    read = values.get(world.find_value(values, name))
    item.update(status="changed", after=read)
    if not _is_dword(read, op["value"]):
        kind = "DWord" if isinstance(read, int) else "String"
        item.update(status="failed", error=f"'{name}' reads back as '{read}' ({kind}) after SetValue, not the REG_DWORD "
                                           f"{op['value']}")


def _remove(ctx, node, values, op, item):
    name = op["name"]
    existing = world.find_value(values, name)
    if existing is None:
        return
    if ctx.check_mode:
        item.update(status="changed", after=None)
        return
    error = world.registry_write_error(ctx.data, node["name"], name)
    if error:
        item.update(status="failed", error=f"removing '{name}' failed: {error}")
        return
    del values[existing]
    ctx.mark_changed()
    ctx.result["changed"] = True
    item.update(status="changed", after=None)
    if world.find_value(values, name) is not None:
        item.update(status="failed", error=f"'{name}' is still there after DeleteValue")


@operation("vss_access_control", SPEC)
def vss_access_control(ctx, params):
    result = ctx.result
    result["changed"] = False
    node = world.find_node(ctx.data, ctx.node)
    node_name = node["name"].upper()
    _check_arguments(params)
    operations = [dict(op, action=op["action"].lower()) for op in params["operations"]]
    values = node.get("vss_access_control")
    if values is None and not ctx.check_mode and any(op["action"] == "set" for op in operations):
        values = node["vss_access_control"] = {}  # CreateSubKey
        ctx.mark_changed()
        result["changed"] = True
    current = values if values is not None else {}

    result["accounts"] = []
    items = {}

    def item_for(name):
        key = world.value_key(name)
        if key not in items:
            data = current.get(world.find_value(current, name))
            items[key] = {"name": name, "status": "ok", "before": data, "after": data}
            result["accounts"].append(items[key])
        return items[key]

    resolver = world.Resolver(ctx.data, node_name)
    for name in params["resolve"]:
        item = item_for(name)
        try:
            item["sid"] = resolver.name_to_sid(name)
        except world.IdentityNotMapped as err:
            item.update(status="failed", error=f"'{name}' does not resolve to a SID on {node_name}: {err}")
    for op in operations:
        item = item_for(op["name"])
        if item["status"] == "failed":
            continue  # an account that does not resolve is not written
        (_set if op["action"] == "set" else _remove)(ctx, node, current, op, item)

    if ctx.check_mode:  # what the key would hold
        predicted = dict(current)
        for item in result["accounts"]:
            if item["status"] == "changed":
                existing = world.find_value(predicted, item["name"])
                if item["after"] is None:
                    predicted.pop(existing, None)
                else:
                    predicted[existing if existing is not None else item["name"]] = item["after"]
        result["values"] = predicted
    else:
        result["values"] = dict(current)
    return result
