"""Small hvsim models for the integration tests, and the ansible calls they make against them."""
from hvsim.testing import host_results, run_ansible


def vm(name, vm_id, node, state="Running", scsi=1, controller="SCSI", shutdown_seconds=5, honours=True, **overrides):
    """A VM on Cluster Disk 1 with one disk; keyword arguments override any model key."""
    data = {
        "id": vm_id, "name": name, "node": node, "state": state, "generation": 2, "version": "10.0",
        "processor_count": 2, "memory_startup": 2147483648, "dynamic_memory": False,
        "checkpoint_type": "Production", "automatic_checkpoints": False,
        "path": f"C:\\ClusterStorage\\Volume1\\{name}", "clustered": True, "anti_affinity_class_names": [],
        "scsi_controllers": scsi,
        "hard_disks": [{"path": f"C:\\ClusterStorage\\Volume1\\{name}\\os.vhdx", "controller_type": controller,
                        "controller_number": 0, "controller_location": 0, "shared": False}],
        "backup_integration": {"enabled": True, "status": "OK"}, "checkpoints": [],
        "guest": {"shutdown_seconds": shutdown_seconds, "honours_shutdown": honours},
    }
    data.update(overrides)
    return data


def node(name, os_build=20348):
    return {"name": name, "fqdn": f"{name.lower()}.it.example", "state": "Up", "os_build": os_build,
            "vss_access_control": {}, "vss_writers": []}


def model(nodes, vms):
    """Cluster HVCIT with one CSV owned by HV01."""
    return {
        "credentials": {"username": "hvadmin", "password": "hvsim-Passw0rd"},
        "cluster": {"name": "HVCIT", "parameters": {"ConfigStoreRootPath": ""},
                    "shared_volumes": [{"name": "Cluster Disk 1", "path": "C:\\ClusterStorage\\Volume1",
                                        "owner_node": "HV01", "state": "Online"}]},
        "nodes": nodes,
        "vms": vms,
        "folders": {},
        "accounts": {},
        "faults": {"latency_ms": 0, "fail_nth": 0, "drop_nth": 0},
    }


def model_bytes(lab):
    with open(lab.model_path, "rb") as fh:
        return fh.read()


def adhoc(lab, module, module_args, *extra, hosts="hv"):
    """``ansible <hosts> -m hyperv.backup.<module> -a <module_args>``; returns ``(rc, {host: result})``."""
    args = ["-a", module_args] if module_args else []
    rc, out = run_ansible(lab, hosts, "-m", f"hyperv.backup.{module}", *args, *extra)
    assert isinstance(out, dict), out
    return rc, host_results(out)


def fails_leaving_model_untouched(lab, module, module_args, message, hosts="HV01"):
    """Run a task that must fail: it fails on ``hosts`` naming ``message``, and the model file is
    byte-identical afterwards. Returns the per-host results."""
    untouched = model_bytes(lab)
    rc, results = adhoc(lab, module, module_args, hosts=hosts)
    assert rc != 0
    for result in results.values():
        assert result["failed"] is True and message in result["msg"], result
    assert model_bytes(lab) == untouched
    return results
