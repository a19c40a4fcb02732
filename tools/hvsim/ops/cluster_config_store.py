"""plugins/modules/cluster_config_store.ps1 in Python: set ConfigStoreRootPath of the cluster resource of type
'Virtual Machine Cluster WMI' once, creating its folder first, and read it back
(docs/windows-contract.md, cluster_config_store).

Windows behaviour modelled here (sources in :mod:`hvsim.world`, "the cluster's configuration store"):

- The cluster cmdlets answer where the cluster service runs (``nodes[].cluster_service``) and the
  FailoverClusters PowerShell module is installed (``nodes[].failover_clusters_module``), as for host_facts.
- ``cluster.parameters: null``: the cluster has no 'Virtual Machine Cluster WMI' resource.
- ``Set-ClusterParameter`` refuses a value once one is set ("The request is not supported.", KB 4488568), and
  (the strictest case, since Microsoft does not document it) a folder that does not exist ("The system cannot
  find the path specified.").
- A folder exists when ``folders`` lists it (seen from this node) or it is an Online CSV's own folder;
  ``New-Item`` lists it, inheriting its parent's inheritable access rules; a folder the run created is removed
  again when setting the value fails, as the .ps1 does.
- ``faults.cmdlets`` apply to every call (``Get-ClusterResource``, ``Get-ClusterParameter``,
  ``Set-ClusterParameter``, ``Get-Item``, ``New-Item``); ``ignore`` on Set-ClusterParameter makes it return
  without setting anything, which the read-back catches.
"""
from hvsim import world
from hvsim.ops import CmdletError, ModuleFail, operation

SPEC = {  # mirrors the $spec of plugins/modules/cluster_config_store.ps1
    "options": {
        "path": {"type": "str", "required": True},
        "create_folder": {"type": "bool", "default": True},
    },
    "supports_check_mode": True,
}
# the cmdlets of plugins/modules/cluster_config_store.ps1 whose behaviour this models (tests/sanity/test_cmdlet_calls.py)
CMDLETS = (
    "Microsoft.PowerShell.Management\\Get-Service",
    "FailoverClusters\\Get-ClusterResource", "FailoverClusters\\Get-ClusterParameter",
    "FailoverClusters\\Set-ClusterParameter",
    "Microsoft.PowerShell.Management\\Get-Item", "Microsoft.PowerShell.Management\\New-Item",
)

NAME = "cluster_config_store"


def _fail(message):
    raise ModuleFail(f"{NAME}: {message}")


def _key(path):
    return world.path_key(path)


def _read(ctx):
    ctx.cmdlet("Get-ClusterParameter")
    return world.config_store_root_path(ctx.data)


def _test_folder(ctx, node_name, path):
    """Get-Item: whether the folder exists on this node."""
    ctx.cmdlet("Get-Item")
    return world.folder_exists(ctx.data, node_name, path)


def _remove_created(ctx, created):
    """Remove the folders this run created, deepest first, each only while empty; returns those left."""
    left = []
    for folder in reversed(created):
        try:
            world.remove_folder(ctx.data, folder)
            ctx.mark_changed()
        except world.WorldError as err:
            left.append(f"{folder} ({err})")
    return left


def _check_arguments(path):
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        _fail(f"path '{path}' contains a control character; a Windows folder name cannot")
    if not (len(path) >= 3 and path[0].isascii() and path[0].isalpha() and path[1] == ":" and path[2] == "\\"):
        _fail(f"path '{path}' is not an absolute path on a drive (such as C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore)")
    if any(part in (".", "..") for part in path.split("\\")):
        _fail(f"path '{path}' has a . or .. segment; give the folder itself")


def _cluster_resource(ctx, node):
    node_name = node["name"].upper()
    service = world.cluster_service(ctx.data, node)
    if service is None:
        _fail(f"{node_name} is not a node of a failover cluster (it has no cluster service), so ConfigStoreRootPath "
              "cannot be set from it")
    if service != "Running":
        _fail(f"the cluster service (ClusSvc) is {service} on {node_name}; start it (Start-ClusterNode) or run the "
              "task on another node of the cluster")
    if node.get("failover_clusters_module", True) is False:
        _fail(f"{node_name} runs the cluster service (ClusSvc) but has no FailoverClusters PowerShell module; install "
              "it: Install-WindowsFeature RSAT-Clustering-PowerShell")
    try:
        ctx.cmdlet("Import-Module")
        ctx.cmdlet("Get-ClusterResource")
    except CmdletError as err:
        _fail(f"reading the cluster resources on {node_name} failed: {err}")
    if not world.has_config_store_resource(ctx.data):
        _fail(f"the failover cluster has no resource of type '{world.CONFIG_STORE_RESOURCE}', which holds "
              "ConfigStoreRootPath, so nothing was changed; failover clusters of Windows Server 2016 and later whose "
              "nodes run Hyper-V have it in the core cluster group")


@operation(NAME, SPEC)
def cluster_config_store(ctx, params):
    result = ctx.result
    result["changed"] = False
    node = world.find_node(ctx.data, ctx.node)
    node_name = node["name"].upper()
    path = params["path"]
    _check_arguments(path)
    _cluster_resource(ctx, node)
    resource = world.CONFIG_STORE_RESOURCE
    result["resource"] = resource

    try:
        before = _read(ctx)
    except CmdletError as err:
        _fail(f"reading ConfigStoreRootPath of '{resource}' on {node_name} failed: {err}")
    result.update(before={"ConfigStoreRootPath": before}, after={"ConfigStoreRootPath": before}, status="ok")
    if before:
        if _key(before) != _key(path):
            result.update(status="conflict",
                          msg=f"ConfigStoreRootPath is already '{before}' (read on {node_name}); Windows does not "
                              f"allow changing it once set, so '{path}' was not set")
        return result

    try:
        exists = _test_folder(ctx, node_name, path)
    except CmdletError as err:
        _fail(f"the folder '{path}' cannot be read on {node_name}: {err}; nothing was set")
    if not exists and not params["create_folder"]:
        _fail(f"the folder '{path}' does not exist on {node_name}; ConfigStoreRootPath must name a folder that exists, "
              "so nothing was set: create it, or let the task create it (create_folder: true)")

    if ctx.check_mode:
        result.update(status="changed", changed=True, after={"ConfigStoreRootPath": path}, folder_created=not exists)
        return result

    created = []
    result["folder_created"] = False
    if not exists:
        missing, folder = [], path.rstrip("\\")
        try:
            while folder is not None and not _test_folder(ctx, node_name, folder):
                missing.insert(0, folder)
                folder = world.parent_path(folder)
            for folder in missing:
                if ctx.cmdlet("New-Item"):
                    world.add_folder(ctx.data, folder)
                    ctx.mark_changed()
                created.append(folder)
        except CmdletError as err:
            result["folder_created"] = bool(_remove_created(ctx, created))
            _fail(f"creating the folder '{path}' on {node_name} failed: {err}; nothing was set")
        result.update(folder_created=True, changed=True)

    try:
        if ctx.cmdlet("Set-ClusterParameter"):
            world.set_config_store_root_path(ctx.data, node_name, path)
            ctx.mark_changed()
    except (CmdletError, world.WorldError) as err:
        message = str(err)
        try:
            now = _read(ctx)
        except CmdletError:
            now = None
        if now:
            result.update(before={"ConfigStoreRootPath": now}, after={"ConfigStoreRootPath": now})
            if _key(now) == _key(path):
                result["status"] = "ok"
            else:
                left = _remove_created(ctx, created)
                result.update(folder_created=bool(left), changed=bool(left), status="conflict",
                              msg=f"ConfigStoreRootPath was set to '{now}' meanwhile (read on {node_name} after "
                                  f"Set-ClusterParameter failed: {message}); Windows does not allow changing it once "
                                  f"set, so '{path}' was not set")
            return result
        left = _remove_created(ctx, created)
        result.update(folder_created=bool(left), changed=bool(left))
        removal = ""
        if created and not left:
            removal = "; the folder this run created was removed again"
        elif left:
            removal = f"; the folders this run created could not all be removed: {', '.join(left)}"
        _fail(f"setting ConfigStoreRootPath of '{resource}' to '{path}' on {node_name} failed: {message}{removal}")
    result.update(changed=True, status="changed", after={"ConfigStoreRootPath": path})

    try:
        after = _read(ctx)
    except CmdletError as err:
        _fail(f"reading ConfigStoreRootPath back after Set-ClusterParameter on {node_name} failed: {err}")
    result["after"] = {"ConfigStoreRootPath": after}
    if _key(after) != _key(path):
        _fail(f"Set-ClusterParameter returned without an error on {node_name}, but ConfigStoreRootPath is '{after}' "
              f"(asked: '{path}')")
    return result
