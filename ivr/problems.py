"""Problems found in menu files, reported to ops staff as `file:line: message`."""

from __future__ import annotations

from ivr.frozen import frozen


@frozen(order=True)
class Problem:
    """One error or warning tied to a place in a menu file."""

    file: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}: {prefix}{self.message}"

    @property
    def is_error(self) -> bool:
        """True when the problem must stop the menus from loading."""
        return self.severity == "error"


class MenuError(Exception):
    """Raised when menu files cannot be loaded; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
