"""Decode the stdin ansible-core sends to run a PowerShell module.

With the ``winrm`` connection (pipelining is always on) a module run is one command whose stdin is::

    <bootstrap JSON>\\n\\0\\0\\0\\0\\n<exec manifest JSON>

The bootstrap (``{"name": "exec_wrapper", "script": ..., "params": {...}}``) carries the exec wrapper;
ansible-core 2.21 adds ``PwshPath`` to its params. The manifest holds ``scripts`` (base64 sources of the
module and its utils, keyed by name) and ``actions``, run in order: optional wrappers
(``become_wrapper.ps1``, ``async_wrapper.ps1`` + ``async_watchdog.ps1``, ``coverage_wrapper.ps1``) and
last ``module_wrapper.ps1``, whose ``params.Script`` names the module
(``ansible_collections.<ns>.<coll>.plugins.modules.<name>.ps1``) and whose ``params.Variables`` holds
``complex_args``: the module arguments plus the ``_ansible_*`` keys (``_ansible_check_mode``,
``_ansible_diff``, ``_ansible_verbosity``, ``_ansible_module_name``, 2.21's ``_ansible_inject_invocation``).

Checked against what ansible-core 2.19.14 and 2.21.5 send (``ansible/executor/powershell/module_manifest.py``).
"""
import json
from dataclasses import dataclass, field

SEPARATOR = b"\n\0\0\0\0\n"
MODULE_WRAPPER = "module_wrapper.ps1"


class PayloadError(ValueError):
    """The stdin is not an ansible-core PowerShell module payload (or not one hvsim understands)."""


@dataclass
class ModuleRequest:
    script: str                      # params.Script of module_wrapper.ps1
    args: dict                       # complex_args, _ansible_* keys included
    become: bool = False
    become_user: str = None
    async_mode: bool = False
    async_jid: str = None
    wrappers: list = field(default_factory=list)   # names of the actions before module_wrapper.ps1
    bootstrap_params: dict = field(default_factory=dict)

    @property
    def check_mode(self):
        return _truthy(self.args.get("_ansible_check_mode"))

    @property
    def diff(self):
        return _truthy(self.args.get("_ansible_diff"))


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ("y", "yes", "on", "1", "true", "t", "1.0")
    return bool(value)


def split(data):
    """Split stdin into ``(bootstrap dict, manifest dict)``; raise :class:`PayloadError` when it is not one."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data:
        raise PayloadError("stdin is empty")
    head, sep, tail = data.partition(b"\0\0\0\0")
    if not sep:
        raise PayloadError("stdin has no exec wrapper payload (no NUL separator between bootstrap and manifest)")
    try:
        bootstrap = json.loads(head.decode("utf-8"))
        manifest = json.loads(tail.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"the exec wrapper payload is not JSON: {exc}") from None
    if not isinstance(bootstrap, dict) or not isinstance(manifest, dict):
        raise PayloadError("the exec wrapper payload is not a pair of JSON objects")
    if bootstrap.get("name") != "exec_wrapper":
        raise PayloadError(f"the bootstrap names {bootstrap.get('name')!r}, not 'exec_wrapper'")
    return bootstrap, manifest


def decode(data):
    """Decode a module run's stdin into a :class:`ModuleRequest`."""
    bootstrap, manifest = split(data)
    actions = manifest.get("actions")
    if not isinstance(actions, list) or not actions:
        raise PayloadError("the exec manifest has no actions")
    module_action = None
    wrappers = []
    for action in actions:
        if not isinstance(action, dict):
            raise PayloadError(f"the exec manifest has an action that is not an object: {action!r}")
        if action.get("name") == MODULE_WRAPPER:
            module_action = action
        else:
            wrappers.append(str(action.get("name")))
    if module_action is None:
        names = ", ".join(str(a.get("name")) for a in actions)
        raise PayloadError(f"the exec manifest runs no module (actions: {names})")

    params = module_action.get("params") or {}
    script = params.get("Script")
    if not isinstance(script, str) or not script:
        raise PayloadError("the module_wrapper.ps1 action has no params.Script")
    if not params.get("ForModule", True):
        raise PayloadError(f"the payload runs the script {script!r}, not a module")

    args = None
    for variable in params.get("Variables") or []:
        if isinstance(variable, dict) and variable.get("Name") == "complex_args":
            args = variable.get("Value")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise PayloadError(f"complex_args of {script} is not an object: {type(args).__name__}")

    request = ModuleRequest(script=script, args=args, wrappers=wrappers,
                            bootstrap_params=dict(bootstrap.get("params") or {}))
    for action in actions:
        name = action.get("name")
        action_params = action.get("params") or {}
        if name == "become_wrapper.ps1":
            request.become = True
            request.become_user = action_params.get("BecomeUser")
        elif name == "async_wrapper.ps1":
            request.async_mode = True
            request.async_jid = action_params.get("AsyncJid")
    return request


def fqcn(script):
    """``ansible_collections.ns.coll.plugins.modules.name.ps1`` -> ``ns.coll.name`` (else ``script``)."""
    parts = script.split(".")
    if len(parts) == 7 and parts[0] == "ansible_collections" and parts[3:5] == ["plugins", "modules"] \
            and parts[6] == "ps1":
        return f"{parts[1]}.{parts[2]}.{parts[5]}"
    return script


def encode(script, args, *, become_user=None, async_jid=None, ansible_version="2.19.14", pwsh_path=None):
    """Build stdin in the shape ansible-core sends (for tests and benchmarks; scripts are left out)."""
    boot_params = {"MinOSVersion": None, "MinPSVersion": None, "TempPath": "%TEMP%"}
    if pwsh_path:
        boot_params["PwshPath"] = pwsh_path
    bootstrap = {"name": "exec_wrapper", "script": "# exec wrapper source", "params": boot_params}
    actions = []
    if become_user:
        actions.append({"name": "become_wrapper.ps1", "params": {"BecomeUser": become_user},
                        "secure_params": {"BecomePassword": ""}})
    if async_jid:
        actions.append({"name": "async_wrapper.ps1",
                        "params": {"AsyncDir": "%USERPROFILE%\\.ansible_async", "AsyncJid": async_jid,
                                   "StartupTimeout": 5}, "secure_params": {}})
        actions.append({"name": "async_watchdog.ps1", "params": {"Timeout": 30}, "secure_params": {}})
    complex_args = dict(args)
    complex_args.setdefault("_ansible_check_mode", False)
    complex_args.setdefault("_ansible_diff", False)
    complex_args.setdefault("_ansible_verbosity", 0)
    complex_args.setdefault("_ansible_version", ansible_version)
    complex_args.setdefault("_ansible_module_name", fqcn(script))
    actions.append({
        "name": MODULE_WRAPPER,
        "params": {"Script": script, "Environment": {},
                   "Variables": [{"Name": "complex_args", "Value": complex_args, "Scope": "Global"}],
                   "CSharpModules": ["Ansible.Basic.cs"], "PowerShellModules": [], "ForModule": True},
        "secure_params": {},
    })
    manifest = {"scripts": {MODULE_WRAPPER: {"path": MODULE_WRAPPER, "script": ""},
                            script: {"path": script, "script": ""}},
                "actions": actions, "signed_hashlist": []}
    return (json.dumps(bootstrap) + "\n").encode() + b"\0\0\0\0" + ("\n" + json.dumps(manifest)).encode()
