# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``facts`` option shared by the modules that plan from what hyperv.backup.host_facts read
(plugin_utils/_given_facts.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  facts:
    description:
      - The C(hyperv_backup) facts of the node this task runs on, as the play already gathered them with
        M(hyperv.backup.host_facts) - C(ansible_facts.hyperv_backup), or the result registered from that task.
        The task then plans from them and does not read the node first, so a play that gathers once and runs
        several of these modules costs one round trip per node for the gather and one more per module only
        where something changes.
      - The facts must hold the subsets this module needs (see its notes); facts gathered without one fail the
        task before anything is sent to the host, naming the missing subset and the O(hyperv.backup.host_facts#module:gather_subset)
        to add. The facts of another host of the inventory fail the task too.
      - Facts can be stale - something may change on the host between the gather and this task. The plan is
        made from them, but the host reads each item again before changing it and changes only what still
        differs from the plan's target, so stale facts never make it change what is already right; an item
        that is already so is reported C(ok), and a warning names what the host found different from the facts.
      - Without it, the task reads the node itself (one round trip).
    type: dict
"""
