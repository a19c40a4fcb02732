"""Run an action plugin of this collection with ``_execute_module`` replaced by recorded module results."""
from unittest.mock import MagicMock

from ansible.playbook.task import Task

# Ansible's collection loader is configured once, by the repository's conftest.py.


def make_action(action_class, args, module_results, check_mode=False, diff=False):
    """``module_results``: ``{module name: result dict or callable(module_args) -> result}``.

    Returns the plugin and the list of ``(module_name, module_args)`` calls it made.
    """
    task = MagicMock(Task)
    task.args = dict(args)
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = diff
    play_context = MagicMock()
    play_context.check_mode = check_mode
    play_context.diff = diff
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = action_class(task=task, connection=connection, play_context=play_context,
                          loader=MagicMock(), templar=MagicMock(), shared_loader_obj=None)
    calls = []

    def execute_module(module_name=None, module_args=None, task_vars=None, **kwargs):
        calls.append((module_name, module_args))
        result = module_results[module_name]
        return result(module_args) if callable(result) else dict(result)

    action._execute_module = execute_module
    return action, calls
