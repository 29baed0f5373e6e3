"""tcmu-scst: SCST sysfs management and vdisk handlers on LIO + TCMU."""

__version__ = "0.1.0"
