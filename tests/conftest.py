"""Shared pytest set-up: the VM fixture (``vm``) comes from the project's own plugin."""

pytest_plugins = ["tcmu_scst.vm.pytest_plugin"]
