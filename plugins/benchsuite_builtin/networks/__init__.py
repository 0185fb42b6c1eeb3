"""Built-in networks plugins."""
