"""Dataset manifests; installed as the package ``benchsuite_builtin.manifests`` (see pyproject.toml)."""
