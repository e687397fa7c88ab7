# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release ledger: which version is stable, which was before, every release and its outcome.

It lives on a fleet host, not on the controller (AWX runs in throw-away containers). Pure
transitions on a dict; the modules write the files (read_json only reads them).
"""

from __future__ import annotations

import copy
import json
import os
import re

from ansible_collections.liveavatar.rollout.plugins.module_utils.release_version import is_release_version

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# The ledger's two files on the fleet host; plugins/doc_fragments/ledger_files.py documents the same defaults.
FILES_ARGUMENT_SPEC = {
    "path": {"type": "path", "default": "/var/lib/liveavatar-rollout/ledger.json"},
    "lock_path": {"type": "path", "default": "/var/lib/liveavatar-rollout/rollout.lock"},
}
# validated: stages 1-2 passed in a run without the traffic stage (nothing was promoted).
CLOSED = ("promoted", "validated", "aborted", "rolled_back", "failed")


class LedgerError(ValueError):
    """A transition the ledger refuses; the message says why."""


def read_json(path, default):
    """A ledger or lock file as JSON, default when it does not exist; LedgerError when it is unreadable or corrupt."""
    if not os.path.exists(path):
        return default
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise LedgerError(f"{path} is unreadable or corrupt: {exc}; restore it from a backup, nothing was changed") from exc


def read_lock(path):
    """(holder, problem): (None, None) when there is no lock; (None, why) when it is empty, unreadable or not a holder."""
    try:
        holder = read_json(path, None)
    except LedgerError as exc:
        return None, str(exc).split("; restore it", maxsplit=1)[0]
    if holder is None or (isinstance(holder, dict) and isinstance(holder.get("run_id"), str) and holder["run_id"]):
        return holder, None
    return None, f"{path} holds {holder!r}, not a run_id"


def fenced_reason(ledger, holder, run_id):
    """Why run_id may no longer change the fleet, or None while it holds the lock and its release is open and not revoked."""
    if holder is None:
        return "the rollout lock is gone (a rollback revoked it)"
    if holder.get("run_id") != run_id:
        return f"the rollout lock is held by run {holder.get('run_id')} since {holder.get('since')}"
    release = next((r for r in validate(ledger)["releases"] if r["run_id"] == run_id), None)
    if release is None:
        return f"the ledger has no release {run_id}"
    if release["status"] != "in_progress":
        return f"release {release['version']} ({run_id}) was closed as {release['status']}"
    revoked = [e for e in release["events"] if e.get("event") == "revoked"]
    if revoked:
        return f"a rollback ({revoked[-1].get('by')}) revoked it at {revoked[-1].get('at')}"
    return None


def revoke(ledger, by, now):
    """Mark every open release revoked by a rollback: its rollout stops at its next check; the rollback closes it."""
    new = copy.deepcopy(validate(ledger))
    for release in new["releases"]:
        if release.get("status") == "in_progress" and not any(e.get("event") == "revoked" for e in release["events"]):
            release["events"].append({"event": "revoked", "by": by, "at": now})
    return new


VALIDATING_STAGES = (1, 2)


def require_validated(ledger, version, digest, carried_digest=None):
    """The release that validated this digest in stages 1 and 2, or LedgerError: stage 3 alone never releases an unvalidated image.

    `carried_digest` is what the validating run handed on (AWX set_stats): the tag must still resolve to it.
    """
    if carried_digest and carried_digest != digest:
        raise LedgerError(
            f"{version} now resolves to {digest[:19]}..., not the {carried_digest[:19]}... that stages 1-2 validated (the tag moved): validate it again"
        )
    for release in reversed(validate(ledger)["releases"]):
        if release.get("version") != version or release.get("digest") != digest or release.get("status") != "validated":
            continue
        for event in release.get("events", []):
            stages = event.get("stages") if event.get("event") == "validated" else None
            if isinstance(stages, list) and set(VALIDATING_STAGES) <= set(stages):
                return release
    raise LedgerError(
        f"{version} ({digest[:19]}...) has no release validated by stages 1 and 2 in the ledger: "
        f"run -e version={version} -e stages=1,2 first (or all stages together)"
    )


def require_baseline(ledger, version):
    """The stable release a rollout of `version` is judged against; refuses a fleet without one, or `version` itself."""
    stable = validate(ledger)["stable"]
    if stable is None:
        raise LedgerError("no stable version in the ledger: run playbooks/bootstrap.yml -e version=<first version>")
    if stable["version"] == version:
        raise LedgerError(f"{version} is already the stable version")
    return stable


def empty():
    return {"stable": None, "previous_stable": None, "releases": [], "baselines": {}}


def validate(ledger):
    if not isinstance(ledger, dict) or not isinstance(ledger.get("releases"), list):
        raise LedgerError("ledger is not an object with a releases list")
    for key in ("stable", "previous_stable"):
        entry = ledger.get(key)
        if entry is not None and not (isinstance(entry, dict) and is_release_version(entry.get("version")) and _DIGEST_RE.match(str(entry.get("digest")))):
            raise LedgerError(f"ledger {key} entry is malformed: {entry!r}")
    ledger.setdefault("baselines", {})
    return ledger


def _check(version, digest):
    if not is_release_version(version):
        raise LedgerError(f"version {version!r} is not vMAJOR.MINOR[.PATCH]")
    if not _DIGEST_RE.match(str(digest)):
        raise LedgerError(f"digest {digest!r} is not sha256:<64 hex>")


def find(ledger, run_id):
    for release in ledger["releases"]:
        if release["run_id"] == run_id:
            return release
    raise LedgerError(f"no release with run_id {run_id} in the ledger")


def start(ledger, run_id, version, digest, now, baseline=None, opened=None):
    """Open a release (its first event: `opened`, the plan); idempotent for the same run_id (a re-run changes nothing)."""
    _check(version, digest)
    new = copy.deepcopy(validate(ledger))
    for release in new["releases"]:
        if release["run_id"] == run_id:
            if (release["version"], release["digest"]) != (version, digest):
                raise LedgerError(f"run {run_id} already released {release['version']} ({release['digest'][:19]})")
            return new
    new["releases"].append(
        {
            "run_id": run_id,
            "version": version,
            "digest": digest,
            "baseline": baseline,
            "status": "in_progress",
            "started": now,
            "ended": None,
            "events": [dict(opened, at=now)] if opened else [],
        }
    )
    return new


def record(ledger, run_id, event, now):
    new = copy.deepcopy(validate(ledger))
    find(new, run_id)["events"].append(dict(event, at=now))
    return new


def close(ledger, run_id, status, now, reason=""):
    """Close a release. Promotion moves stable to previous_stable and the release to stable."""
    if status not in CLOSED:
        raise LedgerError(f"status {status!r} is not one of {CLOSED}")
    new = copy.deepcopy(validate(ledger))
    release = find(new, run_id)
    if release["status"] == status:
        return new
    if release["status"] != "in_progress":
        raise LedgerError(f"release {release['version']} ({run_id}) is already {release['status']}")
    release.update(status=status, ended=now, reason=reason)
    if status == "promoted":
        set_stable(new, release["version"], release["digest"], in_place=True)
    return new


def set_stable(ledger, version, digest, in_place=False):
    _check(version, digest)
    new = ledger if in_place else copy.deepcopy(validate(ledger))
    current = new.get("stable")
    if current and (current["version"], current["digest"]) == (version, digest):
        return new
    new["previous_stable"] = current
    new["stable"] = {"version": version, "digest": digest}
    return new


def set_baseline(ledger, version, metrics):
    if not is_release_version(version):
        raise LedgerError(f"version {version!r} is not vMAJOR.MINOR[.PATCH]")
    if not isinstance(metrics, dict) or not metrics:
        raise LedgerError("baseline metrics must be a non-empty mapping")
    new = copy.deepcopy(validate(ledger))
    new["baselines"][version] = {"version": version, "metrics": metrics}
    return new


def known_versions(ledger):
    """Every version the fleet ran as stable, with its digest: a rollback may only go to one of these."""
    known = {}
    for key in ("previous_stable", "stable"):
        entry = ledger.get(key)
        if entry:
            known[entry["version"]] = entry["digest"]
    for release in ledger["releases"]:
        if release.get("status") == "promoted":
            known.setdefault(release["version"], release["digest"])
    last = ledger.get("last_rollback") or {}
    if last.get("to"):
        known.setdefault(last["to"], last.get("digest"))
    return known


def plan_rollback(ledger, to_version=None, candidate_running=False, candidate_versions=(), running_versions=()):
    """Target of a rollback and the versions it rolls back.

    Without to_version: a release in progress (or candidate containers of a version the fleet never ran as
    stable) goes back to stable; otherwise the previous stable version; after a rollback that moved stable
    (which clears previous_stable), a repeated rollback re-converges on the version that one chose. A target started beside the bad version by an interrupted
    rollback runs in the canary slot too, and is not a candidate.
    `running_versions` (every service container's version label) adds to the versions rolled back; a label that
    is not a version (missing, '..') is listed apart and never becomes a version, since versions build paths.
    """
    validate(ledger)
    stable = ledger.get("stable")
    stable_versions = {entry["version"] for entry in (stable, ledger.get("previous_stable")) if entry}
    candidate_running = candidate_running or any(v not in stable_versions for v in candidate_versions)
    open_releases = [r for r in ledger["releases"] if r.get("status") == "in_progress"]
    known = known_versions(ledger)
    if to_version:
        if to_version not in known or not known[to_version]:
            listed = ", ".join(sorted(known)) or "none"
            raise LedgerError(f"to_version {to_version} has no ledger entry (versions the fleet ran as stable: {listed})")
        target = {"version": to_version, "digest": known[to_version]}
    elif stable is None:
        raise LedgerError("the ledger has no stable version: nothing to roll back to (run playbooks/bootstrap.yml first)")
    elif candidate_running or open_releases:
        target = dict(stable)
    elif ledger.get("previous_stable"):
        target = dict(ledger["previous_stable"])
    elif (ledger.get("last_rollback") or {}).get("to") == stable["version"]:
        # A rollback that moved stable clears previous_stable: running it again re-converges, never rolls forward.
        target = dict(stable)
    else:
        raise LedgerError(f"the ledger has no version before {stable['version']}; give -e to_version=<version>")
    labelled = {v for v in running_versions if is_release_version(v)}
    bad = sorted(({r["version"] for r in open_releases} | ({stable["version"]} if stable else set()) | labelled) - {target["version"]})
    unrecognised = sorted({repr(v) for v in running_versions if not is_release_version(v)})
    return {"target": target, "bad_versions": bad, "open_runs": [r["run_id"] for r in open_releases], "unrecognised_labels": unrecognised}


def rollback(ledger, version, digest, bad_versions, now, reason="", unsent_alerts=None):
    """Record a rollback: open releases closed as rolled_back, stable set to the target; repeating it changes nothing.
    unsent_alerts: the alerts this rollback could not post, kept for the next rollback to post again ([] clears them)."""
    _check(version, digest)
    new = copy.deepcopy(validate(ledger))
    for release in new["releases"]:
        if release.get("status") == "in_progress":
            release.update(status="rolled_back", ended=now, reason=reason or f"rolled back to {version}")
    stable = new.get("stable")
    if not stable or (stable["version"], stable["digest"]) != (version, digest):
        # The rolled-back version must not become the default target of the next rollback.
        new["previous_stable"] = None
        new["stable"] = {"version": version, "digest": digest}
    last = {"to": version, "digest": digest, "from": sorted(set(bad_versions))}
    if unsent_alerts:
        last["unsent_alerts"] = list(unsent_alerts)
    previous = {k: v for k, v in (new.get("last_rollback") or {}).items() if k != "at"}
    if previous != last or new != ledger:
        new["last_rollback"] = dict(last, at=now)
    return new


def dead_holder_action(holder):
    """What to run when the lock's holder is dead (its controller killed): a provision resumes under its own lock; a
    rollout is never resumed (its weights and half-promoted nodes are not known to be as it left them), it is rolled back."""
    run_id = str(holder.get("run_id") or "")
    if run_id.startswith("provision-"):
        return f"if that provision is dead, resume it: ansible-playbook playbooks/provision.yml -e provision_run_id={run_id}; nothing was changed"
    return (
        "if that run is dead (its controller killed), run playbooks/rollback.yml: it fences the run, brings every node back "
        "to one stable version and frees the lock; nothing was changed"
    )
