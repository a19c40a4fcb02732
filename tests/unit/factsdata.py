"""Builders for hyperv_backup facts as host_facts returns them (docs/windows-contract.md)."""
import copy
import uuid

CSVS = [
    {"Name": "Cluster Disk 1", "OwnerNode": "HV01", "State": "Online", "Path": "C:\\ClusterStorage\\Volume1"},
    {"Name": "Cluster Disk 2", "OwnerNode": "HV02", "State": "Online", "Path": "C:\\ClusterStorage\\Volume2"},
]


def vm(name, volume=1, node_state="Running", **overrides):
    vm_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, name))
    path = f"C:\\ClusterStorage\\Volume{volume}\\{name}"
    data = {
        "Id": vm_id,
        "Name": name,
        "State": node_state,
        "Generation": 2,
        "CheckpointType": "Production",
        "AutomaticCheckpointsEnabled": False,
        "Path": path,
        "IsClustered": True,
        "AntiAffinityClassNames": [],
        "ScsiControllers": [{"ControllerNumber": 0, "DiskCount": 1}],
        "HardDisks": [
            {"Path": f"{path}\\os.vhdx", "ControllerType": "SCSI", "ControllerNumber": 0,
             "ControllerLocation": 0, "SupportPersistentReservations": False, "IsVhdSet": False}
        ],
        "BackupIntegration": {"Enabled": True, "PrimaryStatusDescription": "OK"},
        "Checkpoints": [],
    }
    data.update(overrides)
    return data


def node(name, vms, cluster=True, csvs=None, **overrides):
    facts = {
        "schema": 1,
        "gather_subset": ["cluster", "vms", "checkpoints", "vss_access_control", "vss_writers"],
        "node": {"Name": name, "DnsHostName": f"{name.lower()}.lab.example", "OsVersion": "10.0.20348",
                 "OsBuild": 20348, "AutomaticCheckpointsSupported": True},
        "cluster": None,
        "vms": vms,
        "vss_access_control": {"LAB\\svc-veeam": 1},
        "vss_writers_text": "",
    }
    if cluster:
        facts["cluster"] = {
            "Name": "HVC01",
            "Nodes": [{"Name": n, "State": "Up", "Id": str(i + 1)} for i, n in enumerate(["HV01", "HV02"])],
            "Parameters": {"ConfigStoreRootPath": "C:\\ClusterStorage\\Volume1\\ConfigStore"},
            "SharedVolumes": copy.deepcopy(csvs if csvs is not None else CSVS),
            "VMRoles": [],
        }
    facts.update(overrides)
    return facts
