"""The schedule picks of earlier compiles, kept on disk so that compiling a model again skips the timing.

One JSON file, ``$NNVM_BRIDGE_CACHE_DIR/cpu_picks.json`` (default ``~/.cache/nnvm_bridge``), maps
"target | threads | schedule-library version | workload hash" to the chosen candidate's fields. A cached
choice is used only while the rules still offer it, so a changed rule set never applies a stale one.
``NNVM_BRIDGE_CPU_PICK_CACHE=0`` turns the cache off; an unreadable file counts as empty.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile

from nnvm_bridge.version import __version__

FILE_NAME = "cpu_picks.json"


def cache_dir():
    return os.environ.get("NNVM_BRIDGE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "nnvm_bridge")


def enabled():
    return os.environ.get("NNVM_BRIDGE_CPU_PICK_CACHE", "1") not in ("0", "false", "no", "off")


class PickCache:
    def __init__(self, path):
        self.path = path
        self.entries = _read(path)
        self.new = {}

    @classmethod
    def open(cls):
        return cls(os.path.join(cache_dir(), FILE_NAME)) if enabled() else None

    @staticmethod
    def key(target, threads, workload_hash):
        return f"{target} | threads={threads} | {__version__} | {workload_hash}"

    def get(self, key, candidates):
        """The cached choice among ``candidates`` (schedule-choice dataclasses), or None."""
        fields = self.entries.get(key)
        for c in candidates:
            if _fields(c) == fields:
                return c
        return None

    def put(self, key, choice):
        self.new[key] = self.entries[key] = _fields(choice)

    def save(self):
        """Merge this compile's picks into the file as it is now and write it atomically (a concurrent compile
        never leaves half a file); a read-only home is not an error, only a cache that stays empty."""
        if not self.new:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            merged = {**_read(self.path), **self.new}
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=".cpu_picks.")
            with os.fdopen(fd, "w") as f:
                json.dump(merged, f, indent=0, sort_keys=True)
            os.replace(tmp, self.path)
            self.new = {}
        except OSError:
            pass


def _fields(choice):
    return [type(choice).__name__, *dataclasses.astuple(choice)]


def _read(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
