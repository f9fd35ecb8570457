"""pydantic's plugins, off for the command line: advisor uses none, and a plugin must not change how a
profile or a rule file is validated.

Before it builds its first validator, pydantic imports its plugin loader, which imports
`importlib.metadata` (and with it email, zipfile, csv and socket) to read the entry points of every
installed distribution. PYDANTIC_DISABLE_PLUGINS=__all__ spares the reading, but not the imports:
about 6 ms of a brief's start, for a loader whose one function, with plugins off, answers "none"
every time it is asked. `off()` puts a loader in its place that gives the same answer without
importing anything. Set PYDANTIC_DISABLE_PLUGINS yourself (to "": no plugin disabled) and pydantic's
own loader runs, as before.
"""

from __future__ import annotations

import os
import sys
import types

VARIABLE = "PYDANTIC_DISABLE_PLUGINS"
LOADER = "pydantic.plugin._loader"  # pydantic's plugin loader: `get_plugins()` is all pydantic asks of it
ALL_OFF = ("__all__", "1", "true")  # the values with which pydantic's own get_plugins() returns no plugin


def off() -> None:
    """Plugins off for this process (unless the variable is set already), and, when they are all off,
    pydantic's loader replaced by one that finds none without importing importlib.metadata. For a
    program's entry point, before anything imports pydantic's loader (if something has, it stays)."""
    os.environ.setdefault(VARIABLE, "__all__")
    if os.environ[VARIABLE] not in ALL_OFF or LOADER in sys.modules:
        return
    loader = types.ModuleType(LOADER, f"{__name__}: pydantic's plugin loader with every plugin off")
    loader.get_plugins = no_plugins  # type: ignore[attr-defined]
    sys.modules[LOADER] = loader


def no_plugins() -> tuple[()]:
    """What pydantic's get_plugins() returns when PYDANTIC_DISABLE_PLUGINS turns every plugin off."""
    return ()
