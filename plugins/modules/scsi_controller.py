# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the action plugin plugins/action/scsi_controller.py plans on the controller and
# plugins/modules/scsi_controller.ps1 carries the changes out on the Hyper-V host.

DOCUMENTATION = r"""
module: scsi_controller
short_description: Make sure Hyper-V VMs have virtual SCSI controllers for host-level backups
version_added: 0.1.0
description:
  - Makes sure each selected VM of a Hyper-V host has at least O(count) virtual SCSI controllers
    (C(Add-VMScsiController)). A host-level backup hot-adds a recovery disk to the VM, which needs a SCSI
    controller (VMMS event 10103 otherwise). Controllers are only added, never removed.
  - Hyper-V adds a SCSI controller only while the VM is Off. What happens to a VM that is not Off is
    decided by O(running_vms); a running VM is never shut down unless O(running_vms=restart).
  - Reads the host in one round trip (M(hyperv.backup.host_facts)), decides on the controller and, when
    something must change, applies every change in one more round trip. In check mode only the first is
    made and the result says exactly what a real run would change.
  - Per-VM failures do not stop the other VMs; the task fails afterwards if any VM failed.
extends_documentation_fragment:
  - hyperv.backup.attributes
  - hyperv.backup.facts
  - hyperv.backup.vm_selection
options:
  count:
    description:
      - How many SCSI controllers each VM must have at least. A VM has at most 4.
    type: int
    default: 1
  running_vms:
    description:
      - What to do with a VM that needs a controller but is not Off.
      - V(skip) leaves it alone and reports it under RV(pending) with the reason.
      - V(fail) fails the task, listing those VMs, and changes nothing on the host, not even the VMs that are Off.
      - V(restart) shuts a Running VM down gracefully (the guest is asked to shut down, it is never turned
        off), adds the controllers and starts it again, one VM at a time, at most O(max_restarts) VMs per
        run. Whatever fails after the shut down, a VM this task shut down is started again.
      - A guest that refuses at once (a locked guest, Hyper-V return code 32781) fails that VM and is left
        as it was. A guest that has not shut down after O(shutdown_timeout) seconds is watched
        O(shutdown_grace) more seconds; if it is Off by then it gets its controllers and is started again,
        otherwise it is reported V(changed) with RV(vms[].shutdown=unfinished) and a warning, without a new
        controller (see the notes).
      - Saved and Paused VMs are never restarted, they are pending (or fail the task with V(fail)).
    type: str
    choices: [skip, fail, restart]
    default: skip
  max_restarts:
    description:
      - With O(running_vms=restart), how many VMs one run may shut down and start again, taken by VM
        name (the order of the returned RV(vms) list). The others are pending with C(max_restarts reached).
    type: int
    default: 1
  shutdown_timeout:
    description:
      - With O(running_vms=restart), how many seconds a guest has to shut down, 1 to 86400.
    type: int
    default: 300
  shutdown_grace:
    description:
      - With O(running_vms=restart), how many more seconds, 0 to 86400, a guest that has not shut down
        within O(shutdown_timeout) is watched. A guest that has accepted the request goes on shutting down
        after O(shutdown_timeout); if it is Off within the grace period, it gets its controllers and is
        started again.
    type: int
    default: 300
attributes:
  check_mode:
    description: Can run in check_mode and return the changed status without modifying the target.
    support: full
  diff_mode:
    description: Returns the number of SCSI controllers before and after per VM, keyed by VM name, in diff mode.
    support: full
notes:
  - A graceful shut down cannot be taken back once the guest has accepted it. A guest that is still not Off
    after O(shutdown_timeout) plus O(shutdown_grace) may reach Off after the task has ended; it then stays
    Off. The task says so (RV(vms[].shutdown=unfinished), the C(shutdown_unfinished) count of RV(counts) and a warning
    naming the VM and its state). Start it again with C(Start-VM) and run the task again. Give slow guests a
    longer O(shutdown_timeout) or O(shutdown_grace).
  - A VM whose SCSI controllers could not be read (a critical state, for example; the warnings of the task
    say why) is pending, nothing is planned for it.
  - With O(facts), the facts must hold the C(cluster) and C(vms) subsets of M(hyperv.backup.host_facts). The
    host reads each VM's controllers and state again before adding one, and adds only what is still missing.
seealso:
  - module: hyperv.backup.host_facts
  - module: hyperv.backup.checkpoint_type
  - name: Add-VMScsiController
    description: The cmdlet this module uses.
    link: https://learn.microsoft.com/powershell/module/hyper-v/add-vmscsicontroller
author:
  - hyperv.backup maintainers
"""

EXAMPLES = r"""
# Ad hoc, dry run with diff on every host of the inventory group hv:
#   ansible hv -m hyperv.backup.scsi_controller --check --diff

- name: A SCSI controller on every VM that is off; running VMs are reported as pending
  hyperv.backup.scsi_controller:
  register: scsi

- name: Show what is left to do
  ansible.builtin.debug:
    var: scsi.pending

- name: In a maintenance window, restart up to 3 running web VMs to give them a controller
  hyperv.backup.scsi_controller:
    vms: ['WEB*']
    running_vms: restart
    max_restarts: 3
    shutdown_timeout: 600
    shutdown_grace: 300

- name: Refuse to go on if a selected generation 2 VM is running without a controller
  hyperv.backup.scsi_controller:
    query: "[?Generation==`2`]"
    running_vms: fail
"""

RETURN = r"""
changed:
  description: Whether any VM changed (in check mode, would change).
  returned: always
  type: bool
vms:
  description: One entry per selected VM, ordered by name (the order in which VMs are restarted).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The VM ID, lower case without braces.
      type: str
      sample: d9e0eb0a-5b37-508e-9173-67e9ade83acf
    name:
      description: The VM name.
      type: str
      sample: SQL01
    before:
      description: The number of SCSI controllers before the task.
      type: dict
      sample: {ScsiControllers: 0}
    after:
      description: The number of SCSI controllers after the task (in check mode, what it would be).
      type: dict
      sample: {ScsiControllers: 1}
    status:
      description: C(ok) (nothing to do), C(changed) (changed, or would change in check mode),
        C(pending) (left alone, see RV(vms[].msg)) or C(failed).
      type: str
      sample: changed
    msg:
      description: Why the VM is pending or failed, or why a VM asked to shut down has no new controller.
      type: str
      returned: when status is pending or failed, or shutdown is unfinished
    restart:
      description: The VM is (or, in check mode, would be) shut down and started again.
      type: bool
      returned: when the VM is chosen for a restart
    restarted:
      description: Whether the VM was shut down and started again by this task.
      type: bool
      returned: when the VM was chosen for a restart and the task was not in check mode
    shutdown:
      description:
        - What came of the graceful shut down.
        - C(completed) (Off within O(shutdown_timeout) or O(shutdown_grace)), C(unfinished) (asked to shut
          down and still not Off; status C(changed), no controller added, RV(vms[].msg) says what to do),
          C(refused) (the guest refused at once, for example a locked guest; status C(failed), nothing
          changed) or C(none) (not attempted, the VM failed or was found Off first).
      type: str
      returned: when the VM was chosen for a restart and the task was not in check mode
      sample: completed
pending:
  description: The VMs left alone and why.
  returned: always
  type: list
  elements: dict
  sample: [{id: d9e0eb0a-5b37-508e-9173-67e9ade83acf, name: SQL01,
            reason: "Running: Hyper-V adds a SCSI controller only while the VM is Off; ..."}]
counts:
  description: How many VMs were selected, how many ended in each status, how many were shut down and started
    again (C(restarted)) and how many were asked to shut down but were not Off in time (C(shutdown_unfinished)).
  returned: always
  type: dict
  sample: {selected: 3, changed: 1, ok: 1, pending: 1, failed: 0, restarted: 1, shutdown_unfinished: 0}
elsewhere:
  description: VMs named (by name or ID) in O(vms) that are clustered VM roles owned by another node, left to that node.
  returned: always
  type: list
  elements: dict
  sample: [{name: WEB01, node: HV02}]
diff:
  description: Per-VM controller counts before and after, keyed by VM name (C(<name> (<id>)) for VMs that share a name), for the VMs that change.
  returned: in diff mode
  type: dict
  sample: {before: {WEB01: {ScsiControllers: 0}}, after: {WEB01: {ScsiControllers: 1}}}
msg:
  description: What went wrong, naming the VMs or the value.
  returned: on failure
  type: str
"""
