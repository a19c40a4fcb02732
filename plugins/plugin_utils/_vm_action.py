"""The flow every per-VM capability's action plugin follows: validate, gather, plan, apply, shape.

A subclass names its module, its docs stub's DOCUMENTATION and its planner (a module with ``plan``,
``module_args`` and ``merge``, and optionally ``check_options``). One round trip reads the node
(``host_facts`` with the ``cluster`` and ``vms`` subsets: ``cluster`` tells a VM of another node from a
name that matches nothing), none when the task is given the facts the play gathered (the ``facts`` option,
``_given_facts``), and at most one applies the plan; none applies in check mode.
"""
import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase

from ansible_collections.hyperv.backup.plugins.doc_fragments.facts import ModuleDocFragment as FactsFragment
from ansible_collections.hyperv.backup.plugins.doc_fragments.vm_selection import ModuleDocFragment
from ansible_collections.hyperv.backup.plugins.plugin_utils._argspec import argument_spec_from_doc
from ansible_collections.hyperv.backup.plugins.plugin_utils._given_facts import (
    FactsError, check_node, node_facts, stale_warnings)
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import SelectionError
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError, diff

FACTS_MODULE = "hyperv.backup.host_facts"
GATHER_SUBSET = ["cluster", "vms"]
COLLECTION = "hyperv.backup"

_CLASS_RE = re.compile(r"<class '([\w.]+)'>")
_INTERNAL_TYPE_RE = re.compile(r"\b_Ansible\w+")
_PLUGIN_PATH_RE = re.compile(r"\bansible_collections\.(\w+)\.(\w+)\.plugins\.\w+\.(\w+)")
_PLAIN_TYPES = ("dict", "list", "str", "int", "float", "bool", "tuple", "set")


def _plain_type(name):
    """``ansible.module_utils._internal._datatag._AnsibleTaggedDict`` -> ``dict``: the type a user wrote."""
    last = name.rsplit(".", 1)[-1].lower()
    return next((plain for plain in _PLAIN_TYPES if last.endswith(plain)), last.lstrip("_"))


def plain_message(text):
    """A message without ansible's internal names: Python classes of templated values (``<class '...
    _AnsibleTaggedDict'>``, ``_AnsibleLazyTemplateDict``) become the type the user wrote (``dict``), and a
    plugin's import path (``ansible_collections.hyperv.backup.plugins.action.scsi_controller``) its name
    (``hyperv.backup.scsi_controller``)."""
    text = _CLASS_RE.sub(lambda m: _plain_type(m.group(1)), str(text))
    text = _INTERNAL_TYPE_RE.sub(lambda m: _plain_type(m.group(0)), text)
    return _PLUGIN_PATH_RE.sub(r"\1.\2.\3", text)


def validate_arguments(action, name, spec, **validation):
    """``ActionBase.validate_argument_spec`` with messages that name ``hyperv.backup.<name>`` and no
    internal type: returns the validated arguments or raises :class:`AnsibleActionFail`."""
    args = action._task.args.copy()
    result = ArgumentSpecValidator(spec["argument_spec"], **validation).validate(args)
    if result.errors.errors:
        message = result.errors.msg
        if isinstance(result.errors[0], UnsupportedError):
            message = f"Unsupported parameters for ({COLLECTION}.{name}) module: {message}"
        raise AnsibleActionFail(plain_message(message))
    args.update(result.validated_parameters)
    return args


def host_message(result):
    """What a module run that failed as a whole says: its ``msg`` (without internal names)."""
    return plain_message(result.get("msg") or "no message")


def report_failures(result, name, applied, failed, total, noun, key="name", where=""):
    """Fail ``result`` as every apply task of the collection does: the module failing as a whole is the task's
    message (its items keep their results); otherwise the items that failed (``failed``, out of ``total``, each
    a ``noun`` named by its ``key``), each with its reason, the others having been applied."""
    if applied is not None and applied.get("failed"):
        result.update(failed=True, msg=f"{name}: applying on the host failed: {host_message(applied)}")
    elif failed:
        details = "; ".join(f"{entry[key]}: {entry.get('msg', 'failed')}" for entry in failed)
        result.update(failed=True, msg=f"{name}: {len(failed)} of {total} {noun}(s) failed{where}, the others were "
                                       f"applied: {details}")


def argument_spec(documentation, fragments=(ModuleDocFragment, FactsFragment)):
    """The spec of a stub that extends ``fragments`` (by default ``hyperv.backup.vm_selection`` and
    ``hyperv.backup.facts``): the fragments' options plus its own."""
    spec = {"argument_spec": {}}
    for fragment in fragments:
        spec["argument_spec"].update(argument_spec_from_doc(fragment.DOCUMENTATION)["argument_spec"])
    spec["argument_spec"].update(argument_spec_from_doc(documentation)["argument_spec"])
    return spec


def facts_spec(documentation):
    """The spec of a stub that extends ``hyperv.backup.facts`` only."""
    return argument_spec(documentation, (FactsFragment,))


def given_facts(name, args, needs, task_vars, check_host=True):
    """The ``facts`` option's node facts, checked (the subsets ``needs``; with ``check_host``, that they are
    this host's), or None when it was not given. Raises :class:`AnsibleActionFail` naming what is wrong."""
    if args.get("facts") is None:
        return None
    try:
        facts = node_facts(args["facts"], needs)
        if check_host:
            check_node(facts, _target_vars(task_vars or {}))
    except FactsError as err:
        raise AnsibleActionFail(plain_message(f"{name}: {err}")) from None
    return facts


def _target_vars(task_vars):
    """The variables naming the host the module runs on: the delegated host's with ``delegate_to``."""
    delegated = task_vars.get("ansible_delegated_vars")
    if isinstance(delegated, dict) and len(delegated) == 1:
        host, target = next(iter(delegated.items()))
        # its own inventory_hostname there is the delegating host's: the delegate is the key
        return dict(target, inventory_hostname=host, groups=task_vars.get("groups"))
    return task_vars


def facts_or_gather(action, name, args, needs, task_vars, check_host=True):
    """``(facts, warnings, failure)`` as :func:`gather_facts` returns them: from the ``facts`` option when
    given (no round trip), else one round trip to ``host_facts`` for the subsets ``needs``."""
    facts = given_facts(name, args, needs, task_vars, check_host)
    if facts is not None:
        return facts, [], None
    return gather_facts(action, name, needs, task_vars)


def gather_facts(action, name, gather_subset, task_vars):
    """One round trip to ``host_facts`` for the action plugin ``name``. Returns ``(facts, warnings, failure)``:
    ``ansible_facts.hyperv_backup`` (None when the module returned none), the read's warnings (a VM read in part
    or left out, a stopped cluster service: the user sees them with the task), and the task's ``msg`` when the
    read failed as a whole (else None)."""
    gathered = action._execute_module(module_name=FACTS_MODULE, module_args={"gather_subset": list(gather_subset)},
                                      task_vars=task_vars)
    if gathered.get("failed"):
        return None, [], f"{name}: reading the host failed: {host_message(gathered)}"
    facts = (gathered.get("ansible_facts") or {}).get("hyperv_backup")
    return (facts if isinstance(facts, dict) else None), list(gathered.get("warnings") or []), None


class VmAction(ActionBase):
    """Base of the action plugins that change settings of a node's VMs."""

    _supports_check_mode = True
    _supports_async = False

    NAME = None  # short module name, e.g. checkpoint_type
    DOCUMENTATION = None
    PLANNER = None
    VALIDATION = {}  # extra validate_argument_spec keywords (required_one_of, ...)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = validate_arguments(self, self.NAME, argument_spec(self.DOCUMENTATION), **self.VALIDATION)
        try:
            if hasattr(self.PLANNER, "check_options"):
                self.PLANNER.check_options(args)
        except PlanError as err:
            raise AnsibleActionFail(plain_message(f"{self.NAME}: {err}")) from None

        facts, warnings, failure = facts_or_gather(self, self.NAME, args, GATHER_SUBSET, task_vars)
        if failure:
            result.update(failed=True, changed=False, msg=failure)
            return result
        if facts is None or not isinstance(facts.get("vms"), list):
            raise AnsibleActionFail(f"{self.NAME}: {FACTS_MODULE} returned no VM facts")

        try:
            plan = self.PLANNER.plan(facts, args)
        except (PlanError, SelectionError) as err:
            raise AnsibleActionFail(plain_message(f"{self.NAME}: {err}")) from None

        applied = None
        if plan["operations"] and not self._task.check_mode:
            applied = self._execute_module(module_name=f"hyperv.backup.{self.NAME}",
                                           module_args=self.PLANNER.module_args(plan, args), task_vars=task_vars)
            warnings.extend(applied.get("warnings") or [])

        final = self.PLANNER.merge(plan, applied)
        warnings.extend(stale_warnings(self.NAME, final.pop("stale", [])))
        result["changed"] = final.pop("changed")
        result.update(final)
        result["elsewhere"] = plan["elsewhere"]
        if warnings:
            result["warnings"] = warnings
        if self._task.diff:
            result["diff"] = diff(final["vms"])
        # The module failed as a whole (before or after reporting some VMs): its own message is the task's.
        failed = [entry for entry in final["vms"] if entry["status"] == "failed"]
        report_failures(result, self.NAME, applied, failed, len(final["vms"]), "VM")
        return result
