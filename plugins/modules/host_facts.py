# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the action plugin plugins/action/host_facts.py validates the arguments on the
# controller and plugins/modules/host_facts.ps1 reads the Hyper-V host.

DOCUMENTATION = r"""
module: host_facts
short_description: Read what a Hyper-V node sees that matters for host-level backups
version_added: 0.1.0
author:
  - hyperv.backup maintainers (!UNKNOWN)
description:
  - Reads, in one round trip, what a Hyper-V host or failover cluster node sees that matters for host-level
    backups, and returns it as the fact C(hyperv_backup) (C(ansible_facts.hyperv_backup)).
  - The node itself (name, DNS name, OS version and build) is always read.
  - O(gather_subset) chooses the rest. C(cluster) reads the failover cluster (nodes, the parameter
    C(ConfigStoreRootPath), Cluster Shared Volumes with their owner node and path, VM roles with their
    anti-affinity class names). C(vms) reads the VMs registered on this node (state, checkpoint type,
    automatic checkpoints, SCSI controllers, hard disks and whether they are shared or VHD Sets, the Backup
    integration service). C(checkpoints) adds each VM's checkpoints. C(vss_access_control) reads the
    C(VssAccessControl) registry values, C(vss_writers) the text of C(vssadmin list writers).
    C(vhd_set_acls) reads the ACL of every folder that holds a VHD Set (C(.vhds)) file of a VM of this node,
    into RV(ansible_facts.hyperv_backup.acls) beside those of O(acl_paths).
  - "C(events) reads the backup-related events of the last O(events_days) days, one C(Get-WinEvent) call per
    log, at most O(events_max) per log (the newest): from C(Microsoft-Windows-Hyper-V-VMMS-Admin) 10102 (the
    shadow copy inside a VM failed), 10103 (no SCSI controller for the backup's recovery disk) and 19100 (the
    merge of a recovery checkpoint failed, 0x80070005); from C(Microsoft-Windows-Hyper-V-Worker-Admin) 18590;
    from the C(Application) log's C(VSS) source 8193, 8194 (the backup product's requester refused,
    0x80070005) and 12289. The P(hyperv.backup.readiness#filter) filter matches them to its findings as
    their evidence."
  - The ACL of each folder in O(acl_paths) is read too, with each entry's SID and, where it resolves on this
    node, its account name.
  - Changes nothing.
extends_documentation_fragment:
  - hyperv.backup.attributes
options:
  gather_subset:
    description:
      - What to read besides the node itself.
      - V(all) reads every subset, V(min) only the node. A subset name (V(cluster), V(vms), V(checkpoints),
        V(vss_access_control), V(vss_writers), V(vhd_set_acls), V(events)) adds it; V(!name) removes it, after
        the additions, whatever the order. A list of only exclusions starts from V(all).
      - V(checkpoints) and V(vhd_set_acls) need V(vms) and pull it in; asking for either while excluding
        V(vms) is an error.
      - Checked on the controller; an unknown value fails the task before anything is sent to the host.
    type: list
    elements: str
    default: [all]
  acl_paths:
    description:
      - Absolute paths of folders whose ACL to read, for example the folders that hold the VHD Set (C(.vhds))
        files of a guest cluster. A local path (C(C:\ClusterStorage\Volume1\GuestCluster)) or a UNC path
        (C(\\server\share\GuestCluster)).
      - A path that is not absolute, that does not exist on the node or that the account Ansible connects with
        may not read fails the task, naming it and saying which of these it is.
      - A UNC path is read with the credentials of the WinRM session. Without credential delegation (CredSSP,
        Kerberos delegation) they do not reach a second machine (the double hop), so a share served by
        another machine cannot be read; the error says so. Read such a folder on the server that serves it.
    type: list
    elements: str
    default: []
  events_days:
    description:
      - With the V(events) subset, how many days back to read the events, 1 to 365.
      - Checked on the controller.
    type: int
    default: 7
  events_max:
    description:
      - With the V(events) subset, at most this many events per log, the newest, 1 to 10000. A log that had
        more is reported C(truncated) in C(event_logs), so a noisy host cannot flood the result.
    type: int
    default: 200
attributes:
  check_mode:
    description: Reads the same in check mode as in a normal run; it changes nothing in either.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  facts:
    description: Returns the facts under C(ansible_facts.hyperv_backup).
    support: full
notes:
  - One PowerShell module run per host, whatever the number of VMs; each Hyper-V cmdlet is called once for all
    the VMs of the node.
  - Each node reports only the VMs registered on it, as C(Get-VM) does. Run it on every node of a cluster and
    merge the results on the controller with the P(hyperv.backup.cluster_view#filter) filter.
  - Nothing is asked of another node, so no credential delegation (CredSSP, Kerberos delegation; the double
    hop) is needed. The cluster part needs the node to run the cluster service; on a node that is not in a
    failover cluster C(cluster) is V(null). Where the cluster service is stopped, C(cluster) is V(null) too,
    with a warning. Where it runs but the FailoverClusters PowerShell module is missing, asking for the
    C(cluster) subset fails, naming the Windows feature to install (C(RSAT-Clustering-PowerShell)).
  - One troubled VM never fails the task. A VM that moves to another node while it is read is left out, with
    a warning (the node it moved to reports it). A VM that can be read only in part (a critical state such as
    C(OffCritical), whose storage is not accessible, or a property that cannot be read) is reported with
    V(null) for what could not be read, with a warning naming it and why.
  - Whether automatic checkpoints exist is asked of the node (does its C(Set-VM) have the
    C(AutomaticCheckpointsEnabled) parameter), not derived from its build number.
  - Property names are those of the cmdlets that return the data (C(Get-VM) gives C(CheckpointType), C(State),
    ...), so what you know from C(Get-VM | Format-List *) works in a JMESPath query. Enumerations are strings
    and times are ISO 8601 in UTC.
  - The account name C(NT VIRTUAL MACHINE\<VM GUID>) resolves only on the node where that VM is registered; on
    other nodes an ACL entry for it shows its SID (C(S-1-5-83-1-...)) as its C(IdentityReference).
  - A VHD Set folder (V(vhd_set_acls)) that cannot be read (it does not exist, access is denied, a share of
    another machine behind the double hop) is left out of C(acls) with a warning saying why; the task does not
    fail, as it does for an O(acl_paths) item, which was asked for by name.
  - When C(vssadmin list writers) fails, C(vss_writers_text) holds what it printed and a warning says so; the
    task does not fail. Read the writer states with the P(hyperv.backup.vss_writers#filter) filter.
  - A log that does not exist on the node, or has no matching event, is not an error (C(event_logs) says which).
    A log that cannot be read (the account Ansible connects with may not read it) gives a warning and its
    C(status) C(failed); the other logs are still read. An event that cannot be read is left out, with a
    warning, and its log's C(status) is C(partial).
  - Messages of events are in the host's language. The VM an event is about is given by its ID (C(VMId)),
    from the event data field C(VmId), else a property of type Guid, else the last GUID of the message
    (Hyper-V's messages end with the VM ID); the VM name is not parsed from the localized text.
seealso:
  - plugin: hyperv.backup.cluster_view
    plugin_type: filter
  - plugin: hyperv.backup.readiness
    plugin_type: filter
  - plugin: hyperv.backup.vss_writers
    plugin_type: filter
  - module: hyperv.backup.checkpoint_type
  - module: hyperv.backup.scsi_controller
  - name: Get-VM
    description: The cmdlet whose property names the VM facts keep.
    link: https://learn.microsoft.com/powershell/module/hyper-v/get-vm
"""

EXAMPLES = r"""
# Ad hoc, from the command line, the VMs of every host of the inventory group hv:
#   ansible hv -m hyperv.backup.host_facts -a 'gather_subset=vms'

- name: Read everything on every node
  hyperv.backup.host_facts:

- name: Only the VMs, without their checkpoints
  hyperv.backup.host_facts:
    gather_subset:
      - vms
      - '!checkpoints'

- name: Only the node and the cluster
  hyperv.backup.host_facts:
    gather_subset: [min, cluster]

- name: Everything but the VSS writers, and the ACL of a guest cluster's VHD Set folder
  hyperv.backup.host_facts:
    gather_subset: ['!vss_writers']
    acl_paths:
      - C:\ClusterStorage\Volume2\GuestCluster-SQL

- name: The VMs and the ACLs of the folders that hold their VHD Sets (guest clusters)
  hyperv.backup.host_facts:
    gather_subset: [cluster, vhd_set_acls]

- name: VMs of this node whose checkpoint type is not Production or ProductionOnly
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.hyperv_backup.vms
         | rejectattr('CheckpointType', 'in', ['Production', 'ProductionOnly'])
         | map(attribute='Name') }}

- name: VMs of this node without a SCSI controller
  ansible.builtin.debug:
    msg: "{{ ansible_facts.hyperv_backup.vms | selectattr('ScsiControllers', '==', []) | map(attribute='Name') }}"

- name: Only the backup-related events of the last 2 days, at most 50 per log
  hyperv.backup.host_facts:
    gather_subset: [min, events]
    events_days: 2
    events_max: 50

- name: The VMs for which VMMS logged event 10103 (no SCSI controller for the backup's recovery disk)
  ansible.builtin.debug:
    msg: "{{ ansible_facts.hyperv_backup.events | selectattr('Id', '==', 10103) | map(attribute='VMId') | unique }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts of this module.
  returned: success
  type: dict
  contains:
    hyperv_backup:
      description: What the node sees.
      returned: success
      type: dict
      contains:
        schema:
          description: The version of this structure.
          returned: success
          type: int
          sample: 1
        gather_subset:
          description: The subsets that were read, in this order.
          returned: success
          type: list
          elements: str
          sample: [cluster, vms, checkpoints, vss_access_control, vss_writers, vhd_set_acls, events]
        node:
          description:
            - The node itself. C(Name) is C($env:COMPUTERNAME), C(DnsHostName) its fully qualified name.
            - C(AutomaticCheckpointsSupported) is whether this node's C(Set-VM) has the C(AutomaticCheckpointsEnabled)
              parameter (Windows build 16299, version 1709, and later).
            - C(MemoryCapacity) is the node's memory in bytes (C(Get-VMHost)), V(null) with a warning when it could
              not be read.
          returned: success
          type: dict
          sample:
            Name: HV01
            DnsHostName: hv01.lab.example
            OsVersion: 10.0.20348
            OsBuild: 20348
            AutomaticCheckpointsSupported: true
            MemoryCapacity: 274877906944
        cluster:
          description:
            - The failover cluster as this node sees it (C(Get-Cluster), C(Get-ClusterNode),
              C(Get-ClusterSharedVolume), C(Get-ClusterGroup) of group type C(VirtualMachine)).
            - V(null) when the node does not run the cluster service (with a warning when the service exists but
              is stopped).
            - C(Parameters.ConfigStoreRootPath) is that of the cluster resource of type C(Virtual Machine Cluster
              WMI), an empty string when unset, V(null) when there is no such resource.
            - C(SharedVolumes[].Path) is the volume's C(FriendlyVolumeName).
            - C(Nodes[].DrainStatus) is C(NotInitiated), C(InProgress), C(Completed) or C(Failed).
            - C(VMRoles[].PossibleOwners) are the nodes the VM's resource may run on, C(PreferredOwners) the group's
              preferred owners in order, C(AutoFailbackType) 1 when the group fails back to its first preferred
              owner (C(Get-ClusterOwnerNode), one call for all groups and one for all VM resources); a list that
              could not be read is V(null), with a warning.
            - C(CsvBalancer), C(AutoBalancerMode), C(AutoBalancerLevel) and C(ClusterEnforcedAntiAffinity) are the
              cluster's settings that may undo a CSV placement or constrain it (M(hyperv.backup.csv_placement)).
          returned: when the cluster subset was read
          type: dict
          sample:
            Name: HVC01
            Nodes:
              - {Name: HV01, State: Up, Id: '1', DrainStatus: NotInitiated}
              - {Name: HV02, State: Up, Id: '2', DrainStatus: NotInitiated}
            Parameters: {ConfigStoreRootPath: ''}
            SharedVolumes:
              - {Name: Cluster Disk 1, OwnerNode: HV01, State: Online, Path: 'C:\ClusterStorage\Volume1'}
            VMRoles:
              - {Name: SQL01, VMId: d9e0eb0a-5b37-508e-9173-67e9ade83acf, OwnerNode: HV01, State: Online,
                 AntiAffinityClassNames: [], PossibleOwners: [HV01, HV02], PreferredOwners: [HV01], AutoFailbackType: 0}
            CsvBalancer: 1
            AutoBalancerMode: 2
            AutoBalancerLevel: 1
            ClusterEnforcedAntiAffinity: 0
        vms:
          description:
            - The VMs registered on this node (C(Get-VM)), with the C(Get-VM) property names.
            - C(Id) is the lower-case VM ID; C(MemoryStartup) and C(MemoryAssigned) (what the VM holds now, 0 when
              it is Off or Saved) are in bytes; C(AutomaticCheckpointsEnabled) is
              V(null) where the node does not support automatic checkpoints.
            - C(AntiAffinityClassNames) comes from the VM's cluster group, V([]) when the VM is not clustered.
            - C(ScsiControllers) lists the VM's SCSI controllers (C(Get-VMScsiController)) with the number of
              hard disks on each.
            - C(HardDisks) lists its hard disks (C(Get-VMHardDiskDrive)); C(SupportPersistentReservations) is true
              for a shared disk, C(IsVhdSet) when the file is a VHD Set (C(.vhds)). C(FileSize) is the size of the
              disk's file in bytes (C(Get-VHD), one call for all disks), V(null) for a shared disk, which C(Get-VHD)
              reads only from the host using it, and, with a warning, when it could not be read.
            - C(BackupIntegration) is the Backup (volume shadow copy) integration service, V(null) when the VM
              has none.
            - C(Checkpoints) lists the VM's checkpoints (C(Get-VMSnapshot)) with C(CreationTime) in UTC, V([])
              when the checkpoints subset was not read.
            - A value that could not be read for a VM is V(null), and a warning names the VM, the value and why
              (C(ScsiControllers), C(HardDisks), C(BackupIntegration) and C(Checkpoints) when their cmdlet failed
              for that VM; a property of C(Get-VM) that could not be read; C(DiskCount) when the hard disks
              could not be read).
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
              MemoryAssigned: 4294967296
              DynamicMemoryEnabled: false
              CheckpointType: Production
              AutomaticCheckpointsEnabled: false
              Path: C:\ClusterStorage\Volume1\SQL01
              IsClustered: true
              AntiAffinityClassNames: []
              ScsiControllers:
                - {ControllerNumber: 0, DiskCount: 1}
              HardDisks:
                - Path: C:\ClusterStorage\Volume1\SQL01\os.vhdx
                  ControllerType: SCSI
                  ControllerNumber: 0
                  ControllerLocation: 0
                  SupportPersistentReservations: false
                  IsVhdSet: false
                  FileSize: 42949672960
              BackupIntegration: {Enabled: true, PrimaryStatusDescription: OK}
              Checkpoints:
                - Id: 6a1f4c52-0d3e-4b8f-9c1a-2f7d5e8b9a10
                  Name: SQL01 - Backup - (11/2/2026 - 9:04:11 PM)
                  SnapshotType: Recovery
                  CreationTime: '2026-11-02T21:04:11Z'
                  ParentCheckpointId: null
        vss_access_control:
          description:
            - The values under C(HKLM\SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl), account name to
              DWORD (0 denies, 1 allows). Empty when the key does not exist.
          returned: when the vss_access_control subset was read
          type: dict
          sample: {'LAB\svc-backup': 1}
        vss_writers_text:
          description: The text C(vssadmin list writers) printed on the node, also when it failed.
          returned: when the vss_writers subset was read
          type: str
          sample: "Writer name: 'Microsoft Hyper-V VSS Writer'\r\n   Writer Id: {66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}\r\n..."
        events:
          description:
            - The backup-related events of the last O(events_days) days (C(Get-WinEvent)), newest first per log,
              with the property names of C(Get-WinEvent)'s records.
            - C(TimeCreated) is ISO 8601 UTC, C(Level) the number (1 critical, 2 error, 3 warning, 4 information),
              C(Message) the text in the host's language, trimmed (at most 2,000 characters).
            - C(VMId) is the lower-case ID of the VM the event names, V(null) when it names none (the VSS events).
          returned: when the events subset was read
          type: list
          elements: dict
          sample:
            - LogName: Microsoft-Windows-Hyper-V-VMMS-Admin
              ProviderName: Microsoft-Windows-Hyper-V-VMMS
              Id: 10103
              Level: 2
              TimeCreated: '2026-11-19T02:00:11Z'
              Message: "The virtual machine 'OLD-CRM01' cannot be hot backed up since it has no SCSI controllers attached. ..."
              VMId: d9e0eb0a-5b37-508e-9173-67e9ade83acf
        event_logs:
          description:
            - What was read for C(events). C(since) and C(until) are the window by the host's clock (ISO 8601 UTC),
              C(days) and C(max_per_log) the options.
            - C(logs), one per log asked, with C(log), C(provider), C(ids), C(status) (C(read); C(missing), the log
              does not exist here; C(failed), it could not be read; C(partial), some events could not be read),
              C(count) (events reported), C(truncated) (more matched than C(max_per_log); the oldest were left
              out) and C(error).
          returned: when the events subset was read
          type: dict
          sample:
            days: 7
            since: '2026-11-13T06:00:00Z'
            until: '2026-11-20T06:00:00Z'
            max_per_log: 200
            logs:
              - {log: Microsoft-Windows-Hyper-V-VMMS-Admin, provider: null, ids: [10102, 10103, 19100], status: read,
                 count: 1, truncated: false, error: null}
        acls:
          description:
            - One entry per O(acl_paths) item, in the order asked (C(Get-Acl)), then, with the V(vhd_set_acls)
              subset, one per folder that holds a VHD Set file of a VM of this node and is not already listed,
              sorted by path. C(Path) is the folder as asked, or as the disk's path spells it.
            - C(Access) lists the explicit and inherited entries in ACL order. C(IdentityReference) is the account
              name where the SID resolves on this node, else the SID.
          returned: when acl_paths is not empty or the vhd_set_acls subset was read
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
