# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: host_facts
short_description: Read what one Hyper-V node sees, for backup readiness
version_added: 0.1.0
author: hyperv.backup maintainers
description:
  - Reads, in one round trip, what a Hyper-V host or failover cluster node sees that matters for host-level
    backups, and returns it under C(ansible_facts.hyperv_backup).
  - The node itself (name, DNS name, OS build) is always read. The cluster (nodes, the cluster parameter
    C(ConfigStoreRootPath), Cluster Shared Volumes with their owner node and path, VM roles), the VMs registered
    on this node (checkpoint type, automatic checkpoints, SCSI controllers, hard disks and whether they are
    shared VHD Sets, the Backup integration service, checkpoints, anti-affinity class names), the
    C(VssAccessControl) registry values and the text of C(vssadmin list writers) are read as O(gather_subset) says.
  - The ACL of each folder in O(acl_paths) is read too, with every entry's SID and, where the name resolves on
    this node, its account name.
  - Run it on every node of a cluster and merge the results on the controller with the
    P(hyperv.backup.cluster_view#filter) filter. Nothing is asked of another node, so no credential delegation
    (CredSSP, Kerberos delegation) is needed.
  - Changes nothing.
options:
  gather_subset:
    description:
      - What to read besides the node itself.
      - V(all) reads everything, V(min) only the node. A name adds that subset; V(!name) removes it, after the
        additions. A list of only exclusions starts from V(all).
      - V(checkpoints) needs V(vms), which it pulls in unless it is excluded.
      - Validated on the controller; an unknown value fails the task before anything is sent to the host.
    type: list
    elements: str
    default: [all]
  acl_paths:
    description:
      - Absolute paths of folders whose ACL to read, for example the folders that hold VHD Set (C(.vhds)) files.
      - A folder that does not exist on the node fails the task, naming it.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: It changes nothing, so check mode reads as a normal run does.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: windows
notes:
  - One PowerShell module run per host, whatever the number of VMs; each cmdlet is called once for all VMs.
  - Property names follow the cmdlets that return them (C(Get-VM) gives C(CheckpointType), C(State), ...), so what
    you know from PowerShell works in a JMESPath query.
  - The name C(NT VIRTUAL MACHINE\<VM GUID>) resolves only on the node where that VM is registered; on other nodes an
    ACL entry for it shows the SID (C(S-1-5-83-1-...)) as its C(IdentityReference).
  - The writer states of C(vss_writers_text) are read with the P(hyperv.backup.vss_writers#filter) filter.
seealso:
  - plugin: hyperv.backup.cluster_view
    plugin_type: filter
  - plugin: hyperv.backup.readiness
    plugin_type: filter
  - module: hyperv.backup.checkpoint_type
  - module: hyperv.backup.scsi_controller
"""

EXAMPLES = r"""
# Ad hoc, from the command line:
#   ansible hv -m hyperv.backup.host_facts -a 'gather_subset=vms'

- name: Read everything on every node
  hyperv.backup.host_facts:

- name: Only the VMs, without their checkpoints
  hyperv.backup.host_facts:
    gather_subset:
      - vms
      - '!checkpoints'

- name: Everything but the VSS writers, plus the ACL of a guest cluster's VHD Set folder
  hyperv.backup.host_facts:
    gather_subset: ['!vss_writers']
    acl_paths:
      - C:\ClusterStorage\Volume2\GuestCluster-SQL

- name: VMs whose checkpoint type is not Production
  ansible.builtin.debug:
    msg: "{{ ansible_facts.hyperv_backup.vms | rejectattr('CheckpointType', 'in', ['Production', 'ProductionOnly'])
             | map(attribute='Name') }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts, under C(hyperv_backup).
  returned: success
  type: dict
  contains:
    hyperv_backup:
      description: What the node sees. See docs/windows-contract.md in the collection for every key.
      returned: success
      type: dict
      contains:
        schema:
          description: The version of this structure.
          type: int
          sample: 1
        gather_subset:
          description: The subsets that were read.
          type: list
          elements: str
          sample: [cluster, vms, checkpoints, vss_access_control, vss_writers]
        node:
          description: The node itself.
          type: dict
          sample:
            Name: HV01
            DnsHostName: hv01.lab.example
            OsVersion: 10.0.20348
            OsBuild: 20348
            AutomaticCheckpointsSupported: true
        cluster:
          description:
            - The failover cluster as this node sees it; V(null) when the node is not clustered.
            - C(Parameters.ConfigStoreRootPath) is that of the resource C(Virtual Machine Cluster WMI), an empty string
              when unset.
          returned: when the cluster subset was read
          type: dict
          sample:
            Name: HVC01
            Nodes: [{Name: HV01, State: Up, Id: '1'}]
            Parameters: {ConfigStoreRootPath: ''}
            SharedVolumes: [{Name: Cluster Disk 1, OwnerNode: HV01, State: Online, Path: 'C:\ClusterStorage\Volume1'}]
            VMRoles: [{Name: SQL01, OwnerNode: HV01, State: Online, AntiAffinityClassNames: []}]
        vms:
          description: The VMs registered on this node.
          returned: when the vms subset was read
          type: list
          elements: dict
          sample:
            - Id: d9e0eb0a-5b37-508e-9173-67e9ade83acf
              Name: SQL01
              State: Running
              Generation: 2
              Version: '10.0'
              ProcessorCount: 4
              MemoryStartup: 4294967296
              DynamicMemoryEnabled: false
              CheckpointType: Production
              AutomaticCheckpointsEnabled: false
              Path: C:\ClusterStorage\Volume1\SQL01
              IsClustered: true
              AntiAffinityClassNames: []
              ScsiControllers: [{ControllerNumber: 0, DiskCount: 1}]
              HardDisks:
                - {Path: 'C:\ClusterStorage\Volume1\SQL01\os.vhdx', ControllerType: SCSI, ControllerNumber: 0,
                   ControllerLocation: 0, SupportPersistentReservations: false, IsVhdSet: false}
              BackupIntegration: {Enabled: true, PrimaryStatusDescription: OK}
              Checkpoints: []
        vss_access_control:
          description: The values under C(HKLM\SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl), account name to DWORD.
          returned: when the vss_access_control subset was read
          type: dict
          sample: {'LAB\svc-veeam': 1}
        vss_writers_text:
          description: The text of C(vssadmin list writers), as the node printed it.
          returned: when the vss_writers subset was read
          type: str
        acls:
          description: One entry per O(acl_paths) item, in the order asked.
          returned: when acl_paths is not empty
          type: list
          elements: dict
          sample:
            - Path: C:\ClusterStorage\Volume2\GuestCluster-SQL
              Owner: BUILTIN\Administrators
              OwnerSid: S-1-5-32-544
              Access:
                - IdentityReference: NT VIRTUAL MACHINE\D9E0EB0A-5B37-508E-9173-67E9ADE83ACF
                  Sid: S-1-5-83-1-3655396106-1351506743-3915871121-3476744365
                  FileSystemRights: FullControl
                  AccessControlType: Allow
                  InheritanceFlags: ObjectInherit
                  PropagationFlags: None
                  IsInherited: false
"""
