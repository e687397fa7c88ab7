# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HAProxy runtime API's UNIX socket: one command per connection, or a ring's events as a stream.

The only I/O of the HAProxy modules; what is sent and what the replies mean is in haproxy_runtime.py (pure).
"""

from __future__ import annotations

import socket
import time

from ansible_collections.liveavatar.rollout.plugins.module_utils import haproxy_runtime as hr
from ansible_collections.liveavatar.rollout.plugins.module_utils.haproxy_runtime import RuntimeApiError, check_name


class LineBuffer:
    """Bytes read from a stream, returned as complete lines; a line cut by the read waits for its end."""

    def __init__(self):
        self._rest = b""

    def feed(self, chunk):
        data = self._rest + chunk
        *lines, self._rest = data.split(b"\n")
        return [line.decode(errors="replace") for line in lines if line.strip()]


def send(path, line, timeout):
    """One command line on a fresh connection (HAProxy's non-interactive mode), the whole reply read to EOF."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        raise RuntimeApiError(f"cannot talk to the runtime API ({exc.strerror or exc})") from exc
    return b"".join(chunks).decode(errors="replace")


def apply_weights(path, timeout, backend, changes, send_line=send):
    """Weight changes as one batch, lowered weights first; the reply checked, the backend read back and verified.

    Returns the backend's state after the batch, or None when there was nothing to change.
    """
    commands = hr.ordered_commands(backend, changes)
    if not commands:
        return None
    hr.check_set_reply(send_line(path, ";".join(commands), timeout), commands)
    state = hr.parse_show_stat(send_line(path, "show stat", timeout), backend)
    hr.verify_applied(backend, state, changes)
    return state


class EventStream:
    """`show events <ring> -w -n`: every line the ring receives from the moment of connecting, never an older one."""

    def __init__(self, path, ring, timeout, clock=time.time):
        self.ring, self.clock = check_name("ring", ring), clock
        self.buffer = LineBuffer()
        try:
            self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.conn.settimeout(timeout)
            self.conn.connect(path)
            self.conn.sendall(f"show events {self.ring} -w -n\n".encode())
        except OSError as exc:
            raise RuntimeApiError(f"cannot stream ring {ring} from the runtime API ({exc.strerror or exc})") from exc

    def read_until(self, deadline):
        """Complete lines received until wall time deadline; a stream HAProxy closes (no such ring) raises with its words."""
        lines = []
        while (left := deadline - self.clock()) > 0:
            self.conn.settimeout(left)
            try:
                chunk = self.conn.recv(65536)
            except TimeoutError:
                break
            except OSError as exc:
                raise RuntimeApiError(f"the event stream of ring {self.ring} failed ({exc.strerror or exc})") from exc
            if not chunk:
                said = " | ".join(lines)[:200] or "nothing"
                raise RuntimeApiError(f"HAProxy closed the event stream of ring {self.ring} (it said: {said}); is the ring configured?")
            lines.extend(self.buffer.feed(chunk))
        return lines

    def close(self):
        self.conn.close()
