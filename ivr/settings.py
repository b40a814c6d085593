"""Every setting, declared once as a table (name, default, help), read from the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    """One environment setting: its name, default (as text) and what it does."""

    name: str
    default: str
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("TWILIO_AUTH_TOKEN", "", "Twilio auth token used to check X-Twilio-Signature on every "
            "webhook. Unset: a local token is generated under IVR_DATA_DIR (refused when "
            "IVR_ENV=production).", secret=True),
    Setting("IVR_ENV", "development", "`production` refuses to start without TWILIO_AUTH_TOKEN, "
            "IVR_SECRET_KEY and IVR_HASH_KEY."),
    Setting("REDIS_URL", "", "Redis to store call records, voicemail and surveys: redis://, rediss://, "
            "unix://, redis+cluster://h1:p1,h2:p2 or redis+sentinel://h:p/master. Unset: an "
            "embedded Redis server persisted under IVR_DATA_DIR."),
    Setting("IVR_MENUS", "menus", "Folder (or single file) of menu YAML files."),
    Setting("IVR_RECORDINGS", "recordings", "Folder of audio files that prompts and hold music may play."),
    Setting("IVR_DATA_DIR", ".ivr", "Local data: embedded Redis, the survey spool, the generated local token."),
    Setting("IVR_PUBLIC_URL", "", "Public base URL (https://ivr.example.com) used to check signatures "
            "when the app sits behind a proxy that rewrites the host; overrides the forwarded headers."),
    Setting("IVR_TRUSTED_PROXIES", "0", "How many proxies in front of the app may set "
            "X-Forwarded-Proto/X-Forwarded-Host (0: trust none)."),
    Setting("IVR_RELOAD_SECONDS", "1", "How often (at most) a request checks menu files for changes; "
            "0 turns hot reload off."),
    Setting("IVR_VERSIONS_KEPT", "8", "How many menu versions stay in memory so calls in progress "
            "keep the version they started with."),
    Setting("IVR_SECRET_KEY", "", "Key that signs admin sessions. Unset: generated under IVR_DATA_DIR.",
            secret=True),
    Setting("IVR_HASH_KEY", "", "Key for the keyed hashes (HMAC) that replace caller numbers in Redis. "
            "Unset: generated under IVR_DATA_DIR.", secret=True),
    Setting("IVR_CALLER_DIGITS_SHOWN", "4", "Privacy: how many last digits of a caller's number are "
            "kept in call, voicemail and survey records for staff (0 to 4; 0 hides the number). "
            "Numbers are otherwise stored only as keyed hashes."),
    Setting("IVR_RETENTION_DAYS", "395", "Days call records, survey responses and voicemail "
            "records are kept in Redis."),
    Setting("IVR_RETURNING_HOURS", "24", "A caller who called within this many hours is greeted "
            "as a returning caller (0: off)."),
    Setting("IVR_ALERT_WEBHOOK_URL", "", "Where low survey scores are POSTed as JSON "
            "(`{\"text\": ...}`, a Slack incoming webhook works). Unset: alerts are only stored.",
            secret=True),
    Setting("IVR_ALERT_TIMEOUT", "3", "Seconds to wait for the alert webhook (from a background "
            "thread: callers never wait on it)."),
    Setting("IVR_ALERT_RETRY_SECONDS", "30", "Delay before retrying a failed alert POST; doubles "
            "on each failure (up to 32 times this)."),
    Setting("IVR_ALERT_ATTEMPTS", "8", "Tries before an alert POST is given up (the alert stays "
            "stored, marked delivery=failed)."),
    Setting("IVR_EVENT_BATCH_MS", "20", "Write call events (call starts, menu paths) in one "
            "batch per this many milliseconds instead of one Redis round trip per webhook (0: at "
            "once). Each batch is first journalled under IVR_DATA_DIR/journal, so a worker killed "
            "outright loses none. Routes, survey answers and voicemail are always written at once."),
    Setting("IVR_WARM_SECONDS", "600", "How often each app process offers to fill the hourly KPI "
            "rollups of settled hours in the background (one process at a time; 0 turns it off)."),
    Setting("IVR_BIND", "", "gunicorn's listening address (host:port) under the Procfile; unset: "
            "0.0.0.0:$PORT. `ivr serve --host --port` sets it."),
    Setting("PORT", "5000", "Port gunicorn listens on when IVR_BIND is unset (as platforms such as "
            "Heroku set it)."),
    Setting("WEB_CONCURRENCY", "2 × cores + 1", "gunicorn worker processes (`ivr serve --workers`)."),
    Setting("IVR_THREADS", "1", "Threads per gunicorn worker."),
    Setting("IVR_LOG_LEVEL", "INFO", "Log level (DEBUG, INFO, WARNING, ERROR)."),
    Setting("IVR_SPEECH_WPM", "150", "Speaking rate `ivr check --timing` assumes for spoken prompts, "
            "in words per minute: one number, or per language like `150,es-US=170`."),
    Setting("IVR_ABANDON_GRACE_SECONDS", "5", "Callers who hang up within this many seconds "
            "of entering a queue are left out of queue abandonment and service level."),
    Setting("IVR_SERVICE_LEVEL_SECONDS", "20", "Service level: % of queue calls answered within "
            "this many seconds."),
    Setting("IVR_REPORT_TZ", "UTC", "Time zone (IANA name, e.g. America/New_York) that reports, "
            "exports and the dashboard use for days and times; storage stays UTC."),
    Setting("IVR_ADMIN_USERS", "", "Dashboard accounts: `name:role:hash,...` with role supervisor or "
            "viewer and a hash from `ivr admin hash-password`.", secret=True),
    Setting("IVR_ADMIN_TOKEN", "", "One shared sign-in token for small teams (signs in as a "
            "supervisor named `token`); unset: only IVR_ADMIN_USERS can sign in.", secret=True),
    Setting("IVR_SESSION_MINUTES", "480", "Minutes a dashboard sign-in lasts before it expires."),
)

DEFAULTS = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    """Settings resolved for one app: environment over the table's defaults."""

    values: dict

    def get(self, name: str) -> str:
        """A setting's text value."""
        return self.values[name]

    def int(self, name: str) -> int:
        """A setting as a whole number."""
        return int(self.values[name])

    def float(self, name: str) -> float:
        """A setting as a number."""
        return float(self.values[name])

    def path(self, name: str) -> Path:
        """A setting as a filesystem path."""
        return Path(self.values[name])

    @property
    def production(self) -> bool:
        """True when running with IVR_ENV=production."""
        return self.values["IVR_ENV"] == "production"

    def local_secret(self, name: str, filename: str) -> str:
        """A secret from the environment, or one generated once and kept under the data folder."""
        if self.values.get(name):
            return self.values[name]
        folder = self.path("IVR_DATA_DIR")
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / filename
        if not file.exists():
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        return file.read_text().strip()


def load_config(overrides: dict | None = None, environ: dict | None = None) -> Config:
    """The configuration from `environ` (default os.environ), table defaults and `overrides`."""
    environ = os.environ if environ is None else environ
    values = {name: environ.get(name, default) for name, default in DEFAULTS.items()}
    for key, value in (overrides or {}).items():
        if key not in values:
            raise KeyError(f"unknown setting {key}")
        values[key] = str(value)
    return Config(values)


def markdown_table() -> str:
    """The settings as the Markdown table kept in README.md (regenerate with `python -m ivr.settings`)."""
    rows = ["| setting | default | what it does |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(unset)"
        rows.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
