"""A RAM disk dev handler for tcmu-scst, installed as its own distribution.

The handler is :data:`tcmu_scst_ramdisk.handler.DECLARATION`, registered under the entry-point
group ``tcmu_scst.handlers`` as ``vdisk_ramdisk``.
"""

__version__ = "0.1.0"
