"""The WS-Management endpoint of each simulated node (SOAP 1.2 over HTTP with basic auth, on 127.0.0.1).

It speaks the subset of WinRM's remote shell protocol (MS-WSMV) that pywinrm and Ansible's ``winrm``
connection plugin use: Create a shell, Command, Send stdin, Receive stdout/stderr/exit code, Signal
terminate, Delete the shell. A command whose stdin is an ansible-core PowerShell module payload is
decoded (:mod:`hvsim.payload`) and dispatched to :func:`hvsim.ops.run` against the shared model; its JSON
result is the command's stdout. Anything else (``ansible -m raw``, file transfers) exits 1 with an
explanation on stderr.

One :class:`Simulator` serves every node of a model, one HTTP server (and port) per node, all sharing
one :class:`hvsim.model.Model` and one :class:`hvsim.faults.FaultState`.
"""
import base64
import binascii
import copy
import json
import logging
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

from hvsim import ops, payload
from hvsim.faults import SERVICE_STOPPED_CODE, SERVICE_STOPPED_MSG, FaultState

log = logging.getLogger("hvsim.wsman")

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_URI = NS["rsp"]
RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
STATE_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
STATE_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

# WinRM error codes (https://learn.microsoft.com/en-us/windows/win32/winrm/windows-remote-management-error-constants)
# 0x8033805B ERROR_WINRS_SHELL_NOT_FOUND: what a host answers for a ShellId it does not know.
CODE_SHELL_NOT_FOUND = 2150858843
# 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT: a Receive with no output yet; pywinrm retries it.
CODE_OPERATION_TIMEOUT = 2150858793
# ERROR_INVALID_PARAMETER, which hosts put in WSManFault for malformed shell requests.
CODE_INVALID_PARAMETER = 87
# 0x80338008 ERROR_WSMAN_UNSUPPORTED_ACTION? hosts answer unknown actions with ActionNotSupported.
CODE_ACTION_NOT_SUPPORTED = 2150858760

NOT_A_MODULE = ("hvsim runs only this collection's PowerShell modules (ansible-core module payloads on "
                "stdin); it cannot run the command {command!r}: {reason}\r\n")

# Raw stdout bytes per Receive reply and per Stream element. A real host keeps each envelope under
# MaxEnvelopeSizekb (500 KB by default), so big outputs span several Receive replies.
RECEIVE_CHUNK = 256 * 1024
STREAM_CHUNK = 32 * 1024
# How long a Receive waits for stdin to complete before answering with an operation timeout fault.
RECEIVE_WAIT = 5.0


class SoapFault(Exception):
    """A WS-Management fault reply (HTTP 500 with a SOAP Fault carrying ``WSManFault Code``)."""

    def __init__(self, code, message, subcode="w:InternalError", value="s:Receiver"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode
        self.value = value


class DropConnection(Exception):
    """Close the connection without writing a reply."""


class Command:
    def __init__(self, command_line):
        self.id = str(uuid.uuid4()).upper()
        self.command_line = command_line
        self.stdin = bytearray()
        self.stdin_started = False
        self.stdin_done = False
        self.cond = threading.Condition()
        self.executed = False
        self.stdout = b""
        self.stderr = b""
        self.rc = None
        self.offset = 0
        self.receives = 0
        self.stderr_sent = False
        self.fault = None


class Shell:
    def __init__(self):
        self.id = str(uuid.uuid4()).upper()
        self.commands = {}
        self.lock = threading.Lock()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, simulator, node):
        self.simulator = simulator
        self.node = node
        self.shells = {}
        self.shells_lock = threading.Lock()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def log_message(self, fmt, *args):  # keep test output and the foreground server quiet
        log.debug("%s %s", self.server.node, fmt % args)

    # -- HTTP ---------------------------------------------------------------------------------------------
    def do_GET(self):
        self._read_body()
        self._reply(405, b"", content_type="text/plain")

    def do_POST(self):
        sim = self.server.simulator
        body = self._read_body()
        try:
            knobs = sim.faults.observe(sim.model.faults())
        except Exception as exc:  # an unreadable model: answer as a broken host, name the problem
            knobs = None
            model_error = exc
        if knobs and knobs["latency_ms"]:
            time.sleep(knobs["latency_ms"] / 1000.0)
        if not self._authorised():
            self._reply(401, b"", extra_headers={"WWW-Authenticate": 'Basic realm="WSMAN"'})
            return
        if self.path.rstrip("/").lower() != "/wsman":
            self._reply(404, b"", content_type="text/plain")
            return
        message_id = None
        action = ""
        try:
            if knobs is None:
                raise SoapFault(CODE_INVALID_PARAMETER, f"hvsim cannot read its model: {model_error}")
            try:
                root = ET.fromstring(body)
            except ET.ParseError as exc:
                raise SoapFault(CODE_INVALID_PARAMETER, f"The request is not valid XML: {exc}",
                                subcode="w:SchemaValidationError", value="s:Sender") from None
            header = root.find("s:Header", NS)
            if header is None:
                raise SoapFault(CODE_INVALID_PARAMETER, "The SOAP request has no Header.",
                                subcode="w:SchemaValidationError", value="s:Sender")
            action = (header.findtext("a:Action", default="", namespaces=NS) or "").strip()
            message_id = (header.findtext("a:MessageID", default="", namespaces=NS) or "").strip()
            shell_id = None
            for selector in header.findall("w:SelectorSet/w:Selector", NS):
                if selector.get("Name") == "ShellId":
                    shell_id = (selector.text or "").strip()
            reply_body = self._dispatch(action, shell_id, root.find("s:Body", NS))
            text = _envelope(action + "Response", message_id, reply_body)
            self._reply(200, text.encode("utf-8"))
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except SoapFault as fault:
            self._reply(500, _fault_envelope(fault, message_id, self.server.node).encode("utf-8"))

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorised(self):
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        try:
            want_user, want_password = self.server.simulator.model.credentials()
        except Exception:
            return False
        # Windows account names are case-insensitive, passwords are not.
        return user.lower() == want_user.lower() and password == want_password

    def _reply(self, status, data, content_type="application/soap+xml;charset=UTF-8", extra_headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    # -- WS-Management operations -------------------------------------------------------------------------
    def _dispatch(self, action, shell_id, body):
        verb = action.rsplit("/", 1)[-1]
        if verb == "Create" and action.startswith("http://schemas.xmlsoap.org/ws/2004/09/transfer/"):
            return self._create()
        handler = {"Command": self._command, "Send": self._send, "Receive": self._receive,
                   "Signal": self._signal, "Delete": self._delete}.get(verb)
        if handler is None:
            raise SoapFault(CODE_ACTION_NOT_SUPPORTED, f"The action {action!r} is not supported by the service.",
                            subcode="a:ActionNotSupported", value="s:Sender")
        shell = self._shell(shell_id)
        return handler(shell, body)

    def _shell(self, shell_id):
        if not shell_id:
            raise SoapFault(CODE_INVALID_PARAMETER, "The request has no ShellId selector.",
                            subcode="w:InvalidSelectors", value="s:Sender")
        with self.server.shells_lock:
            shell = self.server.shells.get(shell_id.upper())
        if shell is None:
            raise SoapFault(
                CODE_SHELL_NOT_FOUND,
                f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was "
                "not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no "
                "longer exists on the server. Provide the correct ShellId or create a new shell and retry the "
                "operation.", subcode="w:InvalidSelectors", value="s:Sender")
        return shell

    def _command_of(self, shell, element):
        command_id = (element.get("CommandId") or "") if element is not None else ""
        with shell.lock:
            command = shell.commands.get(command_id.upper())
        if command is None:
            raise SoapFault(CODE_INVALID_PARAMETER,
                            f"The Windows Remote Shell received a request to perform an operation on command "
                            f"identifier {command_id!r}, which does not exist in shell {shell.id}.",
                            subcode="w:InvalidParameter", value="s:Sender")
        return command

    def _create(self):
        shell = Shell()
        with self.server.shells_lock:
            self.server.shells[shell.id] = shell
        host, port = self.server.server_address[:2]
        return (
            "<x:ResourceCreated>"
            f"<a:Address>http://{host}:{port}/wsman</a:Address>"
            "<a:ReferenceParameters>"
            f"<w:ResourceURI>{RESOURCE_CMD}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters>"
            "</x:ResourceCreated>"
            f'<rsp:Shell><rsp:ShellId>{shell.id}</rsp:ShellId><rsp:ResourceUri>{RESOURCE_CMD}</rsp:ResourceUri>'
            "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
            "</rsp:Shell>"
        )

    def _command(self, shell, body):
        line = body.find("rsp:CommandLine", NS) if body is not None else None
        if line is None:
            raise SoapFault(CODE_INVALID_PARAMETER, "The Command request has no rsp:CommandLine.",
                            subcode="w:InvalidParameter", value="s:Sender")
        text = (line.findtext("rsp:Command", default="", namespaces=NS) or "").strip()
        args = (line.findtext("rsp:Arguments", default="", namespaces=NS) or "").strip()
        command = Command((text + " " + args).strip())
        with shell.lock:
            shell.commands[command.id] = command
        return f"<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId></rsp:CommandResponse>"

    def _send(self, shell, body):
        send = body.find("rsp:Send", NS) if body is not None else None
        streams = send.findall("rsp:Stream", NS) if send is not None else []
        if not streams:
            raise SoapFault(CODE_INVALID_PARAMETER, "The Send request has no rsp:Stream.",
                            subcode="w:InvalidParameter", value="s:Sender")
        for stream in streams:
            command = self._command_of(shell, stream)
            try:
                data = base64.b64decode((stream.text or "").strip(), validate=True)
            except binascii.Error:
                raise SoapFault(CODE_INVALID_PARAMETER, f"The stdin stream of command {command.id} is not base64.",
                                subcode="w:InvalidParameter", value="s:Sender") from None
            with command.cond:
                if command.stdin_done:
                    raise SoapFault(CODE_INVALID_PARAMETER,
                                    f"The stdin stream of command {command.id} was already closed (End=\"true\").",
                                    subcode="w:InvalidParameter", value="s:Sender")
                command.stdin.extend(data)
                command.stdin_started = True
                if (stream.get("End") or "").lower() == "true":
                    command.stdin_done = True
                command.cond.notify_all()
        return "<rsp:SendResponse/>"

    def _receive(self, shell, body):
        receive = body.find("rsp:Receive", NS) if body is not None else None
        desired = receive.find("rsp:DesiredStream", NS) if receive is not None else None
        command = self._command_of(shell, desired)
        sim = self.server.simulator
        with command.cond:
            if command.stdin_started and not command.stdin_done:
                command.cond.wait_for(lambda: command.stdin_done, timeout=RECEIVE_WAIT)
                if not command.stdin_done:
                    raise SoapFault(CODE_OPERATION_TIMEOUT, "The WS-Management service cannot complete the operation "
                                    "within the time specified in OperationTimeout.",
                                    subcode="w:TimedOut", value="s:Receiver")
            first = command.receives == 0
            command.receives += 1
            drop = first and sim.faults.receive_dropped()
            if command.fault is not None:
                raise command.fault
            if not command.executed:
                stdin = bytes(command.stdin) if command.stdin_started else None
                command.stdin = bytearray()
                command.executed = True
                try:
                    command.stdout, command.stderr, command.rc = sim.execute(self.server.node, command.command_line,
                                                                             stdin)
                except SoapFault as fault:
                    command.fault = fault
                    raise
            if drop:
                raise DropConnection()
            chunk = command.stdout[command.offset:command.offset + RECEIVE_CHUNK]
            command.offset += len(chunk)
            done = command.offset >= len(command.stdout)
            parts = []
            for start in range(0, len(chunk), STREAM_CHUNK):
                piece = base64.b64encode(chunk[start:start + STREAM_CHUNK]).decode("ascii")
                parts.append(f'<rsp:Stream Name="stdout" CommandId="{command.id}">{piece}</rsp:Stream>')
            if done:
                if command.stderr and not command.stderr_sent:
                    for start in range(0, len(command.stderr), STREAM_CHUNK):
                        piece = base64.b64encode(command.stderr[start:start + STREAM_CHUNK]).decode("ascii")
                        parts.append(f'<rsp:Stream Name="stderr" CommandId="{command.id}">{piece}</rsp:Stream>')
                    command.stderr_sent = True
                parts.append(f'<rsp:Stream Name="stdout" CommandId="{command.id}" End="true"></rsp:Stream>')
                parts.append(f'<rsp:Stream Name="stderr" CommandId="{command.id}" End="true"></rsp:Stream>')
                parts.append(f'<rsp:CommandState CommandId="{command.id}" State="{STATE_DONE}">'
                             f"<rsp:ExitCode>{command.rc}</rsp:ExitCode></rsp:CommandState>")
            else:
                parts.append(f'<rsp:CommandState CommandId="{command.id}" State="{STATE_RUNNING}"/>')
            return '<rsp:ReceiveResponse SequenceID="0">' + "".join(parts) + "</rsp:ReceiveResponse>"

    def _signal(self, shell, body):
        signal = body.find("rsp:Signal", NS) if body is not None else None
        command = self._command_of(shell, signal)
        with shell.lock:
            shell.commands.pop(command.id, None)
        return "<rsp:SignalResponse/>"

    def _delete(self, shell, body):
        with self.server.shells_lock:
            self.server.shells.pop(shell.id, None)
        return ""


def _envelope(action, relates_to, body):
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xml:lang="en-US" xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:x="{NS["x"]}" '
        f'xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}">'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to or '')}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body>"
        "</s:Envelope>"
    )


def _fault_envelope(fault, relates_to, node):
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{fault.value}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.message)}</s:Text></s:Reason>'
        "<s:Detail>"
        f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.code}" Machine={quoteattr(node)}>'
        f"<f:Message>{escape(fault.message)}</f:Message></f:WSManFault>"
        "</s:Detail>"
        "</s:Fault>"
    )
    return _envelope(FAULT_ACTION, relates_to, body)


class Simulator:
    """Every node of one model, each behind its own endpoint, sharing the model and the fault counters."""

    def __init__(self, model, host="127.0.0.1"):
        self.model = model
        self.host = host
        self.faults = FaultState()
        self.servers = {}
        self._threads = []
        # Every module run, in order: {"node", "module", "check_mode", "args"}, where args are the module
        # arguments as received (decoded from the payload, before argument validation), without the
        # _ansible_* keys. Tests and benchmarks read it to count round trips per host and to see exactly
        # what reached the host (names byte for byte).
        self.journal = []
        self._journal_lock = threading.Lock()

    def start(self, base_port=0, ports=None):
        """Listen for every node: ``ports`` maps node -> port, else ``base_port + index`` (0: ephemeral).

        Returns ``{node: port}``.
        """
        ops.load_all()
        try:
            for index, node in enumerate(self.model.node_names()):
                if ports and node in ports:
                    port = ports[node]
                else:
                    port = base_port + index if base_port else 0
                server = _Server((self.host, port), self, node)
                self.servers[node] = server
                thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                          name=f"hvsim-{node}", daemon=True)
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.stop()
            raise
        return self.ports

    @property
    def ports(self):
        return {node: server.server_address[1] for node, server in self.servers.items()}

    def stop(self):
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self.servers = {}
        self._threads = []

    def serve_forever(self):
        """Block until interrupted (the endpoints run in their own threads)."""
        try:
            while self.servers:
                time.sleep(0.5)
        finally:
            self.stop()

    # -- running a command --------------------------------------------------------------------------------
    def execute(self, node, command_line, stdin):
        """Run one command for ``node``; returns ``(stdout bytes, stderr bytes, exit code)``."""
        if stdin is None:
            return b"", NOT_A_MODULE.format(command=_short(command_line),
                                            reason="the command has no module payload on stdin").encode(), 1
        try:
            request = payload.decode(stdin)
        except payload.PayloadError as exc:
            return b"", NOT_A_MODULE.format(command=_short(command_line), reason=str(exc)).encode(), 1
        with self._journal_lock:
            self.journal.append({"node": node, "module": ops.short_name(request.script) or request.script,
                                 "check_mode": bool(request.args.get("_ansible_check_mode")),
                                 "args": copy.deepcopy({key: value for key, value in request.args.items()
                                                        if not str(key).startswith("_ansible_")})})
        if self.faults.module_run_fails():
            raise SoapFault(SERVICE_STOPPED_CODE,
                            SERVICE_STOPPED_MSG.format(node=node, n=self.faults.knobs["fail_nth"]))
        # The host's own cost of a module run (PowerShell start-up, the exec wrapper, Import-Module Hyper-V):
        # slept outside the model's lock, so that the nodes pay it at the same time, as separate hosts do.
        cost = self.faults.module_run_seconds()
        if cost:
            time.sleep(cost)
        if request.async_mode:
            result = {"failed": True, "msg": f"hvsim does not run modules asynchronously: the module "
                      f"'{request.script}' was sent with async (async_jid {request.async_jid!r}); run it "
                      "without async/poll"}
        else:
            with self.model.transaction() as data:
                result = ops.run(request.script, node, data, request.args, on_model_change=self.model.mark_changed)
                if result.get("failed"):
                    # Whatever a failed operation touched without marking it changed is not kept.
                    self.model.discard()
        rc = 1 if result.get("failed") else 0
        return (json.dumps(result) + "\r\n").encode("utf-8"), b"", rc


def _short(command_line, limit=120):
    return command_line if len(command_line) <= limit else command_line[:limit] + "..."
