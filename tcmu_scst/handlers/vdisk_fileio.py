"""SCST's ``vdisk_fileio``: a disk stored in a file (or a block device used as a file)."""

from __future__ import annotations

from .backend import open_file_backend
from .backing_files import check_backing_path
from .declaration import DIRECT_ACCESS_DEVICE, HandlerDeclaration, Parameters, flag_param
from .disk import BlockDevice, DiskSettings
from .identity import Identity
from .params import disk_settings, identity
from .vdisk_attributes import BACKED, COMMON_DISK, DISK_CHECKS, LOGICAL_PER_PHYSICAL

HANDLER = "vdisk_fileio"
VENDOR = "SCST_FIO"


def open_device(name: str, filename: str, settings: DiskSettings | None = None,
                identity: Identity | None = None) -> BlockDevice:
    settings = settings or DiskSettings()
    check_backing_path(filename)
    backend = open_file_backend(filename, read_only=settings.read_only,
                                o_direct=settings.o_direct)
    try:
        return BlockDevice(identity or Identity(name, vendor=VENDOR), backend, settings)
    except BaseException:
        backend.close()  # a refused device keeps no descriptor open
        raise


def create(name: str, params: Parameters) -> BlockDevice:
    return open_device(name, params["filename"], disk_settings(params),
                       identity(name, params, VENDOR))


DECLARATION = HandlerDeclaration(
    name=HANDLER,
    scsi_type=DIRECT_ACCESS_DEVICE,
    vendor=VENDOR,
    params=(*BACKED, *COMMON_DISK,
            flag_param("o_direct", "1: the backing file is read and written with O_DIRECT, "
                       "past the page cache"),
            LOGICAL_PER_PHYSICAL),
    advertised=("active", "async", "bind_alua_state", "blocksize", "cluster_mode",
                "dif_filename", "dif_mode", "dif_static_app_tag", "dif_type", "filename",
                "numa_node_id", "nv_cache", "o_direct", "read_only", "removable",
                "rotational", "thin_provisioned", "tst", "t10_dev_id", "write_through"),
    # SCST's fileio parses with no allow-list: these are accepted beyond the advertised ones
    accepted_extra=("size", "size_mb", "dummy", "lb_per_pb_exp"),
    filename_required=True,
    checks=DISK_CHECKS,
    create=create,
)
