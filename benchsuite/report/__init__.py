"""Everything computed from stored predictions after a run: scores, tables,
significance, plots and published leaderboards. Nothing here trains or
imports a concrete plugin; metrics come from the registry by name."""
