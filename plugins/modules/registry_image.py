#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: registry_image
short_description: Resolve an image tag to its digest, or point a tag at a manifest, through the registry's v2 API
version_added: 0.2.0
description:
  - Without O(tag), reads where O(reference) (a tag or a C(sha256:) digest) points; RV(exists) is false when the
    registry has no such manifest. Nothing is written.
  - With O(tag), points O(tag) at the manifest of O(reference) by copying the manifest (no pull, no push of layers).
    C(changed) is true only when the tag pointed elsewhere or nowhere.
  - A registry that cannot be reached, or that answers anything but the expected status, fails the task with one line
    naming the registry and the image, and nothing is written.
options:
  api:
    description: The registry's base URL, C(http(s)://host:port).
    type: str
    required: true
  name:
    description: The image repository, e.g. C(liveavatar/live-avatar).
    type: str
    required: true
  reference:
    description: The tag or digest to read (the source of the manifest copy when O(tag) is given).
    type: str
    required: true
  tag:
    description: A tag to point at the manifest of O(reference).
    type: str
  username:
    description: Registry user (basic auth, e.g. an htpasswd registry).
    type: str
  password:
    description: Registry password.
    type: str
  validate_certs:
    description: Verify the registry's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA bundle that signed the registry's certificate.
    type: path
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 10
  require_exists:
    description: Without O(tag), fail with one line when O(reference) is not in the registry (instead of C(exists=false)).
    type: bool
    default: false
  read_labels:
    description:
      - Without O(tag), also read the image's labels from its config blob (one more request), e.g. the lowest driver
        branch it supports, which admission checks on every GPU host.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: With O(tag), reads both manifests and reports whether the tag would move; nothing is written.
  diff_mode:
    support: full
    description: The tag's digest before and after.
  idempotent:
    support: full
    description: A tag that already points at the manifest is left alone.
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Resolve the version's image to a digest
  liveavatar.rollout.registry_image:
    api: http://registry-1.example.invalid:5000
    name: liveavatar/live-avatar
    reference: v1.1
  register: candidate_image

- name: Point stable at the candidate
  liveavatar.rollout.registry_image:
    api: http://registry-1.example.invalid:5000
    name: liveavatar/live-avatar
    reference: "{{ candidate_image.digest }}"
    tag: stable
"""

RETURN = r"""
exists:
  description: Whether the registry has a manifest for O(reference).
  returned: always
  type: bool
  sample: true
digest:
  description: The manifest digest O(reference) resolves to (null when absent).
  returned: always
  type: str
  sample: sha256:4f1c0b0f9d9a3e1d7c8d6b6f0e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c
labels:
  description: The image's labels (its config's C(Labels)), when O(read_labels) and the image exists; null otherwise.
  returned: when O(tag) is not given
  type: dict
  sample: {"io.liveavatar.min-driver-branch": "535", "io.liveavatar.version": "v1.1"}
tag_before:
  description: Where O(tag) pointed before (null when nowhere).
  returned: when O(tag) is given
  type: str
  sample: sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
registry_unreachable:
  description: On failure, whether no HTTP answer came at all (connection refused, timeout, TLS) rather than a refusal.
  returned: failure
  type: bool
  sample: true
"""

import ssl
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.liveavatar.rollout.plugins.module_utils.registry import Registry, RegistryError, RegistryUnreachable


def _transport(params):
    """open_url with the module's auth and TLS settings; an HTTP error status is an answer, anything else is unreachable."""

    def request(method, url, headers, body):
        try:
            reply = open_url(
                url,
                method=method,
                headers=headers,
                data=body,
                url_username=params["username"],
                url_password=params["password"],
                force_basic_auth=bool(params["username"]),
                validate_certs=params["validate_certs"],
                ca_path=params["ca_path"],
                timeout=params["timeout"],
                follow_redirects="safe",
            )
            return reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers or {}), exc.read() if exc.fp else b""
        except urllib.error.URLError as exc:
            raise RegistryUnreachable(str(getattr(exc, "reason", exc))) from None
        except (TimeoutError, OSError, ssl.SSLError) as exc:
            raise RegistryUnreachable(str(exc) or type(exc).__name__) from None

    return request


def main():
    module = AnsibleModule(
        argument_spec={
            "api": {"type": "str", "required": True},
            "name": {"type": "str", "required": True},
            "reference": {"type": "str", "required": True},
            "tag": {"type": "str"},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
            "timeout": {"type": "int", "default": 10},
            "require_exists": {"type": "bool", "default": False},
            "read_labels": {"type": "bool", "default": False},
        },
        required_together=[("username", "password")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        registry = Registry(p["api"], p["name"], _transport(p))
        if not p["tag"]:
            digest = registry.digest(p["reference"])
            if digest is None and p["require_exists"]:
                module.fail_json(msg=f"registry_image: no image {p['name']}:{p['reference']} in {p['api']} (build and push it first); nothing was changed")
            labels = registry.labels(digest) if digest is not None and p["read_labels"] else None
            module.exit_json(changed=False, exists=digest is not None, digest=digest, labels=labels)
        moved = registry.point_tag(p["tag"], p["reference"], check_mode=module.check_mode)
    except RegistryError as exc:
        # A playbook that can do without the registry (a rollback to images the nodes hold) tells the two apart.
        module.fail_json(msg=f"registry_image: {exc}; nothing was changed", registry_unreachable=isinstance(exc, RegistryUnreachable))
    result = {"changed": moved["changed"], "exists": True, "digest": moved["after"], "tag_before": moved["before"]}
    if module._diff:
        result["diff"] = {"before": {p["tag"]: moved["before"]}, "after": {p["tag"]: moved["after"]}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
