"""Running a grid: expand it into cells, execute them, store each result atomically."""
