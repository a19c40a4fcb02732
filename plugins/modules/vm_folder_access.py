# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the action plugin plugins/action/vm_folder_access.py plans on the controller and
# plugins/modules/vm_folder_access.ps1 changes the folders' ACLs on the Hyper-V host.

DOCUMENTATION = r"""
module: vm_folder_access
short_description: Give each VM's account Full Control on the folders that hold its shared VHD Sets
version_added: 0.1.0
author:
  - hyperv.backup maintainers
description:
  - Grants the virtual account of each VM, C(NT VIRTUAL MACHINE\<VM GUID>), Full Control with object
    inheritance on the folders that hold shared VHD Set (C(.vhds)) files and their checkpoints. Without it the
    background merge at the end of a host-level backup of a guest cluster node fails with VMMS event 19100
    (C(0x80070005), access denied). Microsoft's fix (KB 4230569) is, for every VM that uses the folder, an
    C(icacls <folder> /grant) of Full Control with object inheritance (the C(F) and C(OI) of icacls) to that
    account. This module does that for every VM and folder at once.
  - Grants by SID (C(S-1-5-83-1-...)), which is valid on every node, while the account name resolves only on
    the node where the VM is registered. So one node can grant a whole guest cluster whose VMs run on other
    nodes. The filters P(hyperv.backup.vm_sid#filter) and P(hyperv.backup.vm_account#filter) show the SID and
    the account of a VM ID.
  - Which folders and VMs. O(path) and O(vm_ids) - that folder, those VMs. O(path) alone - every VM with a
    virtual disk in that folder or below it. O(discover=true) - every folder that holds a C(.vhds) file of a
    VM, each with the VMs that use it.
  - Where the VMs are found. With O(cluster_view) (the output of the P(hyperv.backup.cluster_view#filter)
    filter over every node's M(hyperv.backup.host_facts)), the whole cluster decides, and the task runs once,
    on one node (C(run_once)). Without it (ad hoc, on every node), each node considers the VMs registered on
    it and says so in RV(note); clustered VMs of other nodes are left to their node (RV(elsewhere)).
  - Idempotent against the ACL as it is. An explicit Allow ACE for the VM's SID with at least Full Control
    and object inheritance counts; an inherited one does not. A weaker explicit ACE is upgraded in place, a
    missing one is added after the explicit ACEs, before the inherited ones. Every other ACE, explicit or
    inherited, is left as it was, in its place; nothing is added twice.
  - Several nodes may change one folder's ACL at once (ad hoc on every node). The host re-applies the grants
    to the ACL as it finds it, one writer at a time (a lock file in the folder), reads the ACL back, checks
    it and tries again when another writer undid the change, so no node's ACE is lost.
  - One round trip reads the node (M(hyperv.backup.host_facts) - the folders' ACLs, and without
    O(cluster_view) the node's VMs), and one more applies every change, only when something changes and not
    in check mode.
extends_documentation_fragment:
  - hyperv.backup.attributes
  - hyperv.backup.facts
options:
  path:
    description:
      - The folder to grant access to, an absolute path on a Cluster Shared Volume
        (C(C:\ClusterStorage\Volume2\GuestCluster)) or on an SMB share that the VMs' disks use
        (C(\\sofs01\vms\GuestCluster)).
      - Not the root of a volume or share (Full Control inherited by every file of the volume would reach other
        VMs' disks), no wildcards, quotes, C(.) or C(..) segments or streams. A path that does not exist on the
        node fails the task.
      - Without O(vm_ids), the VMs are those with a virtual disk in this folder or below it; there must be at
        least one (with O(cluster_view), or on a stand-alone host; ad hoc, a cluster node without such a VM has
        nothing to do and says so).
      - Mutually exclusive with O(discover).
    type: str
  vm_ids:
    description:
      - IDs of the VMs to grant access to O(path) (C(Get-VM | Format-List Name, Id)). Braces and any case are
        accepted; an ID that is not 32 hexadecimal digits in groups of 8-4-4-4-12 fails the task before anything
        changes, naming it.
      - Each must be a VM of the view (or, ad hoc, of this node or a clustered VM role of another node, which
        that node grants), unless O(allow_unknown_vm_ids=true).
    type: list
    elements: str
  discover:
    description:
      - Every folder that holds a VHD Set (C(.vhds)) file of a VM, each with the VMs that use it.
    type: bool
    default: false
  cluster_view:
    description:
      - The view of the whole cluster, from the P(hyperv.backup.cluster_view#filter) filter over the
        M(hyperv.backup.host_facts) results of every node (with the C(cluster) and C(vms) subsets). The VMs of
        every node then count, and the task needs to run on one node only (C(run_once)); cluster volumes are
        seen from every node.
      - Without it, each node handles the VMs registered on it.
    type: dict
  purge_stale:
    description:
      - Also remove the explicit Allow ACEs of VM accounts (C(S-1-5-83-1-...)) whose VM exists nowhere in the
        cluster, on the target folders that are on a Cluster Shared Volume. No other ACE is ever removed - not
        another principal, not C(NT VIRTUAL MACHINE\Virtual Machines), not an inherited or a Deny ACE.
      - Needs O(cluster_view), of a failover cluster, with facts (C(vms) gathered) from every member node, up or
        not. It refuses otherwise, naming what is missing - a VM registered on a node that sent no facts is not
        stale, and removing its ACE would break its backup.
      - Folders on an SMB share are not purged (a share may serve VMs of other clusters).
    type: bool
    default: false
  allow_unknown_vm_ids:
    description:
      - Grant an ID of O(vm_ids) that is no VM of the view, by its SID, with a warning. For a VM of another
        cluster that shares the folder (a guest cluster spanning two host clusters on one share).
    type: bool
    default: false
  lock_timeout:
    description:
      - How many seconds, 0 to 86400, the host waits for another writer's lock on a folder
        (C(.hyperv-backup-acl.lock) in the folder) before that folder fails.
    type: int
    default: 60
attributes:
  check_mode:
    description: Can run in check_mode and return the changed status without modifying the target; only the read
      round trip is made.
    support: full
  diff_mode:
    description: Shows each folder's ACL before and after, one line per ACE in order, as SDDL and in words.
    support: full
notes:
  - The grant is what C(icacls) writes for C(OI) and C(F) - Full Control, object inheritance, no propagation
    flag. An inherit-only or no-propagate ACE does not count. Windows passes the new inheritable
    ACE on to the files already in the folder.
  - An explicit Deny ACE for a VM's SID is somebody's decision - that VM fails on that folder, nothing is added
    for it, and the message says to remove the Deny ACE by hand. A Deny ACE for C(NT VIRTUAL MACHINE\Virtual
    Machines) is a warning.
  - A folder on an SMB share of another server is read and written with the credentials of the WinRM session,
    which do not reach a second machine without delegation (the double hop); use CredSSP or Kerberos
    delegation, or run the task on the server that serves the share.
  - A folder whose ACL cannot be read or written, or whose lock is held longer than O(lock_timeout), fails
    alone - the other folders are still applied, and the task fails afterwards.
  - In check mode the VMs' status and the ACL after are what a real run would do from the ACL read.
  - With O(facts) (instead of O(cluster_view)), the facts must hold the C(cluster) and C(vms) subsets of
    M(hyperv.backup.host_facts), with O(discover) also C(vhd_set_acls), and with O(path) the ACL of that
    folder (O(hyperv.backup.host_facts#module:acl_paths)). With O(cluster_view), the ACLs its nodes read with
    the C(vhd_set_acls) subset are used, and only the target folders whose ACL the view does not hold are
    read. Either way the host re-applies the grants to the ACL as it finds it when it writes, so an ACL read
    earlier never loses an ACE.
seealso:
  - module: hyperv.backup.host_facts
  - plugin: hyperv.backup.cluster_view
    plugin_type: filter
  - plugin: hyperv.backup.vm_sid
    plugin_type: filter
  - plugin: hyperv.backup.vm_account
    plugin_type: filter
  - plugin: hyperv.backup.vhds_permissions
    plugin_type: role
  - name: KB 4230569, Errors when backing up VMs that belong to a guest cluster in Windows
    description: The fix this module applies.
    link: https://support.microsoft.com/help/4230569
"""

EXAMPLES = r"""
# Ad hoc, on every node at once; each node grants the VMs registered on it:
#   ansible hv -m hyperv.backup.vm_folder_access -a 'path=C:\ClusterStorage\Volume2\GuestCluster-SQL' --diff

- name: Every VM with a disk in the guest cluster's folder, each node for the VMs registered on it
  hyperv.backup.vm_folder_access:
    path: C:\ClusterStorage\Volume2\GuestCluster-SQL

- name: Read every node, for a view of the whole cluster
  hyperv.backup.host_facts:
    gather_subset: [cluster, vms]
  register: hv_facts

- name: One view of the cluster
  ansible.builtin.set_fact:
    hv_view: "{{ ansible_play_hosts | map('extract', hostvars, 'hv_facts') | hyperv.backup.cluster_view }}"
  run_once: true

- name: Every VHD Set folder of the cluster, decided for the whole cluster and applied on one node
  hyperv.backup.vm_folder_access:
    cluster_view: "{{ hv_view }}"
    discover: true
    purge_stale: true
  run_once: true

- name: Two named VMs, checked without changing anything
  hyperv.backup.vm_folder_access:
    cluster_view: "{{ hv_view }}"
    path: C:\ClusterStorage\Volume2\GuestCluster-SQL
    vm_ids:
      - 1daee2b2-c7be-54c9-995b-734656e06057
      - '{9EA746FA-241E-59AC-96C1-3F083E747065}'
  check_mode: true
  run_once: true
  register: hv_folder_access

- name: Which VMs each folder grants, and how they stand
  ansible.builtin.debug:
    msg: "{{ hv_folder_access.vms | map(attribute='name') | zip(hv_folder_access.vms | map(attribute='status')) }}"
  run_once: true
"""

RETURN = r"""
changed:
  description: Whether any folder's ACL changed (in check mode, would change).
  returned: always
  type: bool
scope:
  description: C(cluster) when decided from O(cluster_view), C(node) when from this node's VMs only.
  returned: always
  type: str
  sample: cluster
node:
  description: With RV(scope=node), the node whose VMs were considered.
  returned: always
  type: str
  sample: HV02
note:
  description: With RV(scope=node), what that means (the other nodes handle their VMs); null otherwise.
  returned: always
  type: str
elsewhere:
  description: Ad hoc, VMs of O(vm_ids) that are clustered VM roles of other nodes, left to those nodes.
  returned: always
  type: list
  elements: dict
  sample: [{id: 9ea746fa-241e-59ac-96c1-3f083e747065, name: GC-SQL-N2, node: HV03}]
counts:
  description: How many folders and VMs, and how many folders are C(changed), C(ok) and C(failed).
  returned: always
  type: dict
  sample: {folders: 1, vms: 2, changed: 1, ok: 0, failed: 0}
folders:
  description: One entry per target folder.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The folder.
      type: str
      sample: C:\ClusterStorage\Volume2\GuestCluster-SQL
    status:
      description: C(ok) (every VM already had its ACE), C(changed) (changed, or would change in check mode) or
        C(failed) (see RV(folders[].msg)).
      type: str
      sample: changed
    msg:
      description: Why the folder failed.
      type: str
      returned: when status is failed
    vms:
      description: The VMs of this folder, each with C(id), C(name), C(node), C(sid), C(account), C(status)
        (C(ok), C(changed), C(failed)) and, when it is not ok, C(msg) saying why.
      type: list
      elements: dict
      sample:
        - id: 9ea746fa-241e-59ac-96c1-3f083e747065
          name: GC-SQL-N2
          node: HV03
          sid: S-1-5-83-1-2661762810-1504453662-138396054-1701868606
          account: NT VIRTUAL MACHINE\9EA746FA-241E-59AC-96C1-3F083E747065
          status: changed
          msg: no ACE; one is added
    grant:
      description: The grants planned for the folder (C(sid), C(rights), C(inheritance), C(propagation)).
      type: list
      elements: dict
    revoke:
      description: With O(purge_stale), the stale VM SIDs whose explicit Allow ACEs are removed (C(sid), C(vm_id)).
      type: list
      elements: dict
    before:
      description: The ACL before, in order, as M(hyperv.backup.host_facts) reports it (C(IdentityReference),
        C(Sid), C(FileSystemRights), C(AccessControlType), C(InheritanceFlags), C(PropagationFlags), C(IsInherited)).
      type: list
      elements: dict
    after:
      description: The ACL after, as the host read it back (in check mode, what it would be).
      type: list
      elements: dict
    sddl_before:
      description: RV(folders[].before) as SDDL ACE strings.
      type: list
      elements: str
      sample: ['(A;OI;FA;;;S-1-5-83-1-498000562-1422510014-1181965209-1465966678)', '(A;OICIID;FA;;;S-1-5-18)']
    sddl_after:
      description: RV(folders[].after) as SDDL ACE strings.
      type: list
      elements: str
    warnings:
      description: What is worth knowing about this folder's ACL (Deny ACEs, stale inherited ACEs, ...).
      type: list
      elements: str
vms:
  description: One entry per VM, with the folders it needed and its overall status.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 9ea746fa-241e-59ac-96c1-3f083e747065
      name: GC-SQL-N2
      node: HV03
      sid: S-1-5-83-1-2661762810-1504453662-138396054-1701868606
      account: NT VIRTUAL MACHINE\9EA746FA-241E-59AC-96C1-3F083E747065
      folders: ['C:\ClusterStorage\Volume2\GuestCluster-SQL']
      status: changed
"""
