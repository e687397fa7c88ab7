# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    """The runtime API socket and backend of the modules that talk to HAProxy (haproxy_runtime, canary_step)."""

    DOCUMENTATION = r"""
options:
  socket:
    description: Path of the runtime API UNIX socket on the load-balancer host.
    type: path
    default: /run/haproxy/admin.sock
  backend:
    description: Backend whose servers are read and changed.
    type: str
    default: liveavatar
  timeout:
    description: Seconds to wait for one reply on the socket.
    type: float
    default: 5.0
notes:
  - Run it on the load-balancer host (C(delegate_to)); the socket is local to HAProxy.
"""
