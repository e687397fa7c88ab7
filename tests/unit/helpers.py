"""Shared helpers: real fixtures (skipped with a reason where ../shared is absent) and running a module's main()."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "real"


def real_fixture(name):
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"real fixture {name} needs ../shared/fixtures/real beside the clone (absent here)")
    return path.read_text()


def run_module(main, args, capsys, check_mode=False):
    """Run a module's real main() with args; return (result dict, exit code)."""
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr().out
    return json.loads(out), exit_info.value.code


HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck"


class FakeHAProxy:
    """A runtime API over a real UNIX socket: show stat, set weight (batches with ';'), one command line per connection."""

    def __init__(self, path, servers, garble=None):
        self.servers = servers
        self.garble = garble
        self.lines = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, command):
        words = command.split()
        if command == "show stat":
            rows = [HEADER] + [
                f"liveavatar,{name},0,0,{s['scur']},0,,{s['stot']},0,0,,0,,0,0,0,0,{s['status']},{s['weight']},1,0" for name, s in self.servers.items()
            ]
            return "\n".join(rows) + "\n\n"
        if words[:2] == ["set", "weight"] and len(words) == 4:
            server = words[2].split("/", 1)[1]
            if server not in self.servers:
                return "No such server.\n\n"
            if self.garble != "ignore-set":
                self.servers[server]["weight"] = int(words[3])
            return "\n"
        return "Unknown command.\n\n"

    def _serve(self):
        while True:
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                return
            line = conn.makefile().readline().strip()
            self.lines.append(line)
            if self._stream(conn, line):
                continue
            with conn:
                reply = "".join(self._answer(command.strip()) for command in line.split(";"))
                if self.garble == "show-stat" and line == "show stat":
                    reply = "Permission denied\n"
                conn.sendall(reply.encode())

    def _stream(self, conn, line):
        """A subclass that keeps a connection open (show events) returns True; this runtime API streams nothing."""
        return False

    def close(self):
        self.sock.close()
