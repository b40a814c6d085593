"""`ivr admin hash-password`: make the password hashes that IVR_ADMIN_USERS holds."""

from __future__ import annotations

import click

from ivr.accounts import ROLES, hash_password


def register(main: click.Group) -> None:
    """Add the `admin` command group to the CLI."""

    @main.group()
    def admin() -> None:
        """Dashboard accounts."""

    @admin.command("hash-password")
    @click.option("--name", help="Print a whole IVR_ADMIN_USERS entry for this user name.")
    @click.option("--role", type=click.Choice(ROLES), default="supervisor", show_default=True,
                  help="The role in the printed entry.")
    @click.password_option("--password", prompt="Password", confirmation_prompt=True,
                           help="The password (asked without echo when not given).")
    def hash_password_(name: str | None, role: str, password: str) -> None:
        """Print a salted hash (scrypt) of a password, to put in IVR_ADMIN_USERS as name:role:hash."""
        if len(password) < 8:
            raise click.BadParameter("use at least 8 characters", param_hint="password")
        hashed = hash_password(password)
        if name:
            if ":" in name or "," in name:
                raise click.BadParameter("a user name cannot contain ':' or ','", param_hint="--name")
            click.echo(f"{name}:{role}:{hashed}")
        else:
            click.echo(hashed)
