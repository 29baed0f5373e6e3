"""udev rules and the pyudev hotplug watcher, installed as ``tcmu_scst.udev``."""
