"""What the saveconfig conversion knows of rtslib, LIO and SCST, stated once for both ways.

The export and the import restate facts of other projects (limits, defaults, which keys an
rtslib storage object takes) rather than importing them: rtslib is not installed where the
export runs.  They live here so that each is stated once.  What a target driver is (its
rtslib fabric name, the iSCSI portal, SCST's negotiation keys and their defaults, the
shortest CHAP secret) is not restated: the target driver objects of :mod:`tcmu_scst.drivers`
state it, for the tree and the daemon as for both directions here.

The rtslib facts are from rtslib-fb 2.1.75 (Debian 12) and 2.2.4; keys only newer versions
know (``exclusive`` for ``block``) are not written, so both restore an export.
"""

from __future__ import annotations

from ...drivers import TargetDriver, lio_drivers

SCST_MAX_LUN = 16383  # SCST_MAX_LUN: LUN numbers an SCST LUN set can hold
LIO_MAX_LUN = 65535
LIO_BLOCK_SIZES = (512, 1024, 2048, 4096)
SCST_DEVICE_NAME_MAX = 64
SCST_USN_MAX = 20
ACL_TAG_MAX = 63  # what tcmu-scstd accepts as a LIO ACL tag (a group name)

# LIO TPG parameters SCST has no file for, with the kernel's defaults (lio_configfs.md 2.3)
LIO_ONLY_PARAMETERS = {
    "MaxConnections": "1", "TargetAlias": "LIO Target", "DefaultTime2Wait": "2",
    "DefaultTime2Retain": "20", "ErrorRecoveryLevel": "0", "DataPDUInOrder": "Yes",
    "DataSequenceInOrder": "Yes", "IFMarker": "No", "OFMarker": "No", "IFMarkInt": "Reject",
    "OFMarkInt": "Reject", "RDMAExtensions": "No",
    "InitiatorRecvDataSegmentLength": "262144", "TargetRecvDataSegmentLength": "8192",
}
# Kernel defaults of the iSCSI TPG attributes an import has to interpret (lio_configfs.md
# 2.2): a document that leaves one out gets the kernel's value on restore.
TPG_DEFAULTS = {"generate_node_acls": 0, "demo_mode_write_protect": 1,
                "prod_mode_write_protect": 0, "authentication": 1}
TPG_IGNORED = ("cache_dynamic_acls", "demo_mode_discovery", "tpg_enabled_sendtargets",
               "login_timeout", "netif_timeout", "login_keys_workaround", "default_cmdsn_depth",
               "default_erl", "t10_pi", "fabric_prot_type")
# Node-ACL attributes (lio_configfs.md 2.5) with the values kernels use as defaults
ACL_ATTRIBUTE_DEFAULTS = {
    "dataout_timeout": (3,), "dataout_timeout_retries": (5,), "default_erl": (0,),
    "nopin_timeout": (5, 15), "nopin_response_timeout": (5, 30),
    "random_datain_pdu_offsets": (0,), "random_datain_seq_offsets": (0,),
    "random_r2t_offsets": (0,),
}
# Storage-object attributes whose non-default value changes what an initiator gets and that
# no vdisk parameter expresses (value = LIO's default).
SO_SEMANTIC_DEFAULTS = {"pi_prot_type": 0, "emulate_caw": 1, "emulate_3pc": 1,
                        "emulate_pr": 1, "emulate_fua_write": 1, "emulate_tas": 1,
                        "emulate_ua_intlck_ctrl": 0, "unmap_zeroes_data": 0}

# rtslib's storage-object plugin names (and the old aliases LUN paths may use) → plugin
STORAGE_PLUGINS = {"fileio": "fileio", "block": "block", "iblock": "block",
                   "ramdisk": "ramdisk", "rd_mcp": "ramdisk", "pscsi": "pscsi", "user": "user"}
# the keys rtslib passes to each storage-object class as keyword arguments
SO_KEYS = {
    "fileio": {"dev", "size", "wwn", "write_back", "aio", "index"},
    "block": {"dev", "wwn", "readonly", "write_back", "exclusive", "index"},
    "ramdisk": {"size", "wwn", "nullio", "index"},
    "pscsi": {"dev", "index"},
    "user": {"config", "size", "wwn", "hw_max_sectors", "control", "index"},
}
SO_COMMON_KEYS = {"name", "plugin", "attributes", "alua_tpgs", "exists", "buffered_mode"}
CHAP_KEYS = ("chap_userid", "chap_password", "chap_mutual_userid", "chap_mutual_password")
# rtslib's fabric name → the SCST target driver an import turns its targets into
FABRIC_DRIVERS: dict[str, TargetDriver] = {
    driver.lio.saveconfig_fabric: driver for driver in lio_drivers() if driver.lio is not None}
