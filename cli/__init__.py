"""The `studio` command line package (studio_cli/) and its tests."""
