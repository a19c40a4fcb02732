import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils._windows_path import is_under, normalize, parent


def test_normalize_folds_case_slashes_and_trailing_separator():
    assert normalize("c:/ClusterStorage/Volume1/") == normalize("C:\\CLUSTERSTORAGE\\volume1")
    assert normalize("C:\\") == "C:\\"


@pytest.mark.parametrize(
    "path, folder, expected",
    [
        ("C:\\ClusterStorage\\Volume1\\VM\\a.vhdx", "C:\\ClusterStorage\\Volume1", True),
        ("C:\\ClusterStorage\\Volume10\\VM", "C:\\ClusterStorage\\Volume1", False),
        ("c:\\clusterstorage\\volume1", "C:\\ClusterStorage\\Volume1\\", True),
        ("D:\\VMs", "C:\\", False),
        ("C:\\VMs", "C:\\", True),
    ],
)
def test_is_under(path, folder, expected):
    assert is_under(path, folder) is expected


def test_parent():
    assert parent("C:\\ClusterStorage\\Volume2\\GC\\shared.vhds") == "C:\\ClusterStorage\\Volume2\\GC"
    assert parent("C:\\disk.vhdx") == "C:\\"
