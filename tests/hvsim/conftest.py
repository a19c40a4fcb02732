"""Fixtures for hvsim's own tests: test-only operations and a lab serving the minimal model."""
import pytest
import winrm

from hvsim import ops
from hvsim.testing import Lab

TEST_OPS = ("echo", "counter", "big", "boom", "no_check")


def _register():
    @ops.operation("echo", {"options": {"text": {"type": "str", "required": True},
                                        "times": {"type": "int", "default": 1}},
                            "supports_check_mode": True})
    def echo(ctx, params):
        if params["text"] == "warn":
            ctx.warn("echo was asked to warn")
        return {"text": params["text"] * params["times"], "node": ctx.node, "check_mode": ctx.check_mode}

    @ops.operation("counter", {"options": {"by": {"type": "int", "default": 1}}, "supports_check_mode": True})
    def counter(ctx, params):
        node = next(n for n in ctx.data["nodes"] if n["name"] == ctx.node)
        before = node.get("counter", 0)
        if ctx.check_mode:
            return {"changed": True, "counter": before}
        node["counter"] = before + params["by"]
        ctx.mark_changed()
        return {"changed": True, "counter": node["counter"]}

    @ops.operation("big", {"options": {"size": {"type": "int", "required": True}}, "supports_check_mode": True})
    def big(ctx, params):
        return {"blob": "".join(chr(65 + i % 26) for i in range(params["size"]))}

    @ops.operation("boom", {"options": {"kind": {"type": "str", "choices": ["fail", "crash", "dirty"]}}})
    def boom(ctx, params):
        if params["kind"] == "fail":
            raise ops.ModuleFail(f"boom: asked to fail on {ctx.node}", detail="extra")
        if params["kind"] == "dirty":
            ctx.data["nodes"][0]["scribbled"] = True
            raise ops.ModuleFail("boom: failed after scribbling without marking the model changed")
        raise RuntimeError("the crash the test asked for")

    @ops.operation("no_check", {"options": {}})
    def no_check(ctx, params):
        return {"changed": True}


@pytest.fixture
def test_ops():
    """Register the test operations for one test and remove them afterwards."""
    saved = {name: ops.OPERATIONS.get(name) for name in TEST_OPS}
    _register()
    yield ops.OPERATIONS
    for name, previous in saved.items():
        if previous is None:
            ops.OPERATIONS.pop(name, None)
        else:
            ops.OPERATIONS[name] = previous


@pytest.fixture
def lab(tmp_path, test_ops):
    lab = Lab.start("minimal", tmp_path / "lab")
    yield lab
    lab.stop()


@pytest.fixture
def protocol(lab):
    """``protocol(node=None, username=None, password=None)`` -> a pywinrm Protocol for a lab endpoint."""
    user, password = lab.credentials

    def make(node=None, username=None, passwd=None, read_timeout_sec=30, operation_timeout_sec=20):
        return winrm.protocol.Protocol(lab.endpoint(node), transport="basic",
                                       username=username or user, password=passwd or password,
                                       read_timeout_sec=read_timeout_sec,
                                       operation_timeout_sec=operation_timeout_sec)

    return make
