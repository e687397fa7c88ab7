# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load-balancer naming and weight arithmetic shared by the roles, modules and playbooks."""

from __future__ import annotations

STABLE_SUFFIX = "-stable"
CANARY_SUFFIX = "-canary"


def server_entries(nodes, stable_port=8000, canary_port=8001, stable_weight=100):
    """One stable server in rotation and one canary server at weight 0 per node."""
    entries = []
    for node in nodes:
        entries.append({"name": node + STABLE_SUFFIX, "address": node, "port": int(stable_port), "weight": int(stable_weight)})
        entries.append({"name": node + CANARY_SUFFIX, "address": node, "port": int(canary_port), "weight": 0})
    return entries
