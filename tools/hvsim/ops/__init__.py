"""The PowerShell modules of the collection, as Python implementations of docs/windows-contract.md.

Each module file registers one operation with :func:`operation`. :func:`run` is what an endpoint calls
once it has decoded a module payload: it validates the arguments as ``Ansible.Basic`` would on a real
host, runs the operation against the model data and returns the module's result dict.
"""
import importlib
import pkgutil
from dataclasses import dataclass, field

MODULE_PREFIX = "ansible_collections.hyperv.backup.plugins.modules."

OPERATIONS = {}


class ModuleFail(Exception):
    """Raised by an operation to fail the module, as ``$module.FailJson(msg)`` does."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


@dataclass
class Operation:
    name: str
    spec: dict
    func: object


@dataclass
class Context:
    """What an operation sees: the node serving the request and the model data (a mutable dict)."""

    node: str
    data: dict
    check_mode: bool = False
    diff: bool = False
    changed_model: bool = False
    warnings: list = field(default_factory=list)

    def mark_changed(self):
        """Call after changing ``data``: the model is then saved when the operation returns."""
        self.changed_model = True

    def warn(self, msg):
        self.warnings.append(msg)


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
