"""The ``patron`` command group: sub-commands loaded only when they run, and the one place where
an error becomes one readable line.

A command's module is imported when that command runs, not when ``patron`` starts: the analytics
commands load pandas, SciPy, Ibis and DuckDB, the demo loads numpy, and none of that should cost
``patron --help`` or ``patron migrate`` (or a ``patron serve --workers N`` child) seconds of CPU
(ADR 0010). The root lists each command with its one-line help; the module named in the list is
imported when the command is invoked (or asked for its own ``--help``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from patron.core.deferred import deferred_module
from patron.core.errors import PatronError

if TYPE_CHECKING:
    from patron.core import db
else:
    # Only a command that loaded SQLAlchemy can fail with a database error: what explains one
    # is loaded then, so `patron --help` does not load SQLAlchemy for nothing.
    db = deferred_module("patron.core.db")

err = Console(stderr=True)


@dataclass(frozen=True)
class LazyCommand:
    """A sub-command of ``patron`` named by where it lives: ``target`` is ``"module:attribute"``,
    a ``typer.Typer`` (a group of commands) or a function (one command); ``help`` is the line
    ``patron --help`` shows for it (a test checks it matches the command's own)."""

    name: str
    target: str
    help: str


def load(spec: LazyCommand) -> Any:
    """The click command of ``spec``, its module imported now."""
    module_name, _, attribute = spec.target.partition(":")
    found = getattr(importlib.import_module(module_name), attribute)
    if isinstance(found, typer.Typer):
        return typer.main.get_group(found)
    single = typer.Typer(add_completion=False)
    single.command(spec.name)(found)
    return typer.main.get_command(single)


class DeferredCommand(TyperCommand):
    """Stands in for a lazy command in the root's list; becomes the real one when it runs."""

    def __init__(self, spec: LazyCommand) -> None:
        super().__init__(spec.name, help=spec.help)
        self.spec = spec

    # The context types are Typer's vendored click classes (not public): typed loosely here.
    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        return load(self.spec).make_context(info_name, args, parent=parent, **extra)


def fail(message: str) -> NoReturn:
    """Exit non-zero with one readable line on stderr."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(1)


class PatronGroup(TyperGroup):
    """The root group: ``LAZY`` commands are added as stand-ins, every command is listed in
    alphabetical order, and errors that a person can act on leave as one line and exit 1."""

    LAZY: ClassVar[tuple[LazyCommand, ...]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for spec in self.LAZY:
            self.commands[spec.name] = DeferredCommand(spec)
        self.commands = dict(sorted(self.commands.items()))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PatronError as exc:
            fail(exc.message)
        except Exception as exc:
            problem = db.explain_database_error(exc)
            if problem is None:
                raise
            fail(problem.message)


def lazy_group(commands: tuple[LazyCommand, ...]) -> type[PatronGroup]:
    """A :class:`PatronGroup` class carrying ``commands`` (Typer instantiates the class)."""
    return type("PatronRoot", (PatronGroup,), {"LAZY": commands})
