"""Where cells run. ``local`` runs them one after another in this process."""
from __future__ import annotations

from benchsuite.hookspecs import hookimpl


class Local:
    name = "local"
    description = "Runs cells one after another in this process (CPU or the first GPU)"

    def map(self, work, items):
        for item in items:
            yield work(item)


@hookimpl
def register_executors(register):
    register(Local)
