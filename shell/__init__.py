"""Interactive configshell-fb front end, installed as ``tcmu_scst.shell``."""
