"""Lua scripts run by the writer, registered by name so spooled commands can refer to them."""

from __future__ import annotations

import hashlib

SCRIPTS: dict[str, str] = {}
_SHAS: dict[str, str] = {}


def register(name: str, lua: str) -> str:
    """Register the Lua source `lua` under `name` and return its SHA1 (as EVALSHA wants it)."""
    known = SCRIPTS.get(name)
    if known is not None and known != lua:
        raise ValueError(f"script {name!r} is already registered with a different body")
    SCRIPTS[name] = lua
    _SHAS[name] = hashlib.sha1(lua.encode()).hexdigest()
    return _SHAS[name]


def sha(name: str) -> str:
    """Return the SHA1 hex digest Redis uses to cache the script `name`."""
    return _SHAS[name]


# KEYS[1] hash; ARGV field, value, ts_field, ts.  Writes `field` only when the timestamp
# stored in `ts_field` is absent or not newer than `ts`, so a late duplicate webhook
# never overwrites a newer answer.  Returns 1 when written.
register(
    "set_if_newer",
    """
local stored = redis.call('HGET', KEYS[1], ARGV[3])
if stored and tonumber(stored) > tonumber(ARGV[4]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
""",
)
