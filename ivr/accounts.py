"""Dashboard accounts from configuration (hashed passwords or one shared token) and login throttling."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("supervisor", "viewer")
TOKEN_USER = "token"

# Checked when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password", method="pbkdf2:sha256:1000")


class AccountsError(ValueError):
    """Raised when IVR_ADMIN_USERS cannot be read; the message says which entry and why."""


@dataclass(frozen=True)
class Account:
    """A signed-in dashboard user: a name and a role (supervisor or viewer)."""

    name: str
    role: str

    @property
    def can_change(self) -> bool:
        """True for supervisors: only they may acknowledge, mark or otherwise change data."""
        return self.role == "supervisor"


def hash_password(password: str) -> str:
    """A salted hash for IVR_ADMIN_USERS (werkzeug's scrypt)."""
    if not password:
        raise ValueError("the password is empty")
    return generate_password_hash(password, method="scrypt")


def parse_users(text: str) -> dict[str, tuple[str, str]]:
    """Read IVR_ADMIN_USERS ("alice:supervisor:<hash>,bob:viewer:<hash>") as name -> (role, hash)."""
    users: dict[str, tuple[str, str]] = {}
    for number, entry in enumerate(filter(None, (e.strip() for e in (text or "").split(","))), 1):
        parts = entry.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise AccountsError(f"IVR_ADMIN_USERS entry {number}: expected name:role:hash "
                                "(make the hash with `ivr admin hash-password`)")
        name, role, hashed = parts
        if role not in ROLES:
            raise AccountsError(f"IVR_ADMIN_USERS entry {number} ({name}): role must be "
                                f"{' or '.join(ROLES)}, not {role!r}")
        if "$" not in hashed:
            raise AccountsError(f"IVR_ADMIN_USERS entry {number} ({name}): the password must be a hash "
                                "made by `ivr admin hash-password`, never the password itself")
        users[name] = (role, hashed)
    return users


@dataclass(frozen=True)
class Accounts:
    """Who may sign in: named users with hashed passwords, and/or one shared token (a supervisor)."""

    users: dict[str, tuple[str, str]]
    token: str = ""

    @classmethod
    def from_settings(cls, users: str, token: str) -> Accounts:
        """Accounts from the IVR_ADMIN_USERS and IVR_ADMIN_TOKEN settings."""
        return cls(parse_users(users), token or "")

    @property
    def configured(self) -> bool:
        """True when anyone at all can sign in."""
        return bool(self.users or self.token)

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account when the password (or the shared token) is right, else None."""
        name = (name or "").strip()
        if self.token and (not name or name == TOKEN_USER):
            if hmac.compare_digest(password.encode(), self.token.encode()):
                return Account(TOKEN_USER, "supervisor")
            return None
        role, hashed = self.users.get(name, ("", _DUMMY_HASH))
        if check_password_hash(hashed, password) and role:
            return Account(name, role)
        return None


@dataclass(frozen=True)
class LoginThrottle:
    """Counts failed sign-ins per client address and per user name; refuses after too many."""

    max_failures: int = 10
    window_seconds: int = 900

    KEY = "ivr:admin:failures:{%s}"

    def blocked(self, client: Any, address: str, name: str) -> bool:
        """True when this address or this user name failed too often within the window."""
        # Two GETs, not MGET: the keys live in different cluster slots.
        counts = [client.get(self.KEY % f"ip:{address}"), client.get(self.KEY % f"user:{name}")]
        return any(int(c or 0) >= self.max_failures for c in counts)

    def failed(self, client: Any, address: str, name: str) -> None:
        """Count one failed sign-in for the address and the user name."""
        for key in (self.KEY % f"ip:{address}", self.KEY % f"user:{name}"):
            pipe = client.pipeline(transaction=False)
            pipe.set(key, 0, nx=True, ex=self.window_seconds)  # the window starts at the first failure
            pipe.incr(key)
            pipe.execute()

    def succeeded(self, client: Any, name: str) -> None:
        """Forget the user name's failures after a good sign-in."""
        client.delete(self.KEY % f"user:{name}")
