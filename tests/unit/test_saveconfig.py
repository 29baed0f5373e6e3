"""saveconfig.json export (from our tree on FUSE) and import (to scst.conf text)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tcmu_scst.compat_sysfs.iscsi_params import ISCSI_KEYS
from tcmu_scst.config.saveconfig import (
    UNEXPRESSIBLE,
    SaveconfigError,
    export_saveconfig,
    exporter,
    import_saveconfig,
    importer,
    loopback_wwn,
)
from tcmu_scst.config.saveconfig.facts import FABRIC_DRIVERS
from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.drivers import FCST_DRIVER, ISCSI_DRIVER, ISCSI_LAYOUT, LOCAL_DRIVER, lio_drivers

from .scst_mount import MountedScst

IQN = "iqn.2006-10.net.vlnb:tgt"
HOST1 = "iqn.1994-05.com.example:host1"
HOST2 = "iqn.1994-05.com.example:host2"
FC_PORT = "20:00:00:19:99:a8:34:bc"
FC_HOST = "21:00:00:1b:32:0a:bc:de"


@pytest.fixture
def tree(tree: MountedScst) -> MountedScst:
    """The shared mounted tree, with an FCoE local port for fcst."""
    tree.realizer.ports = [FC_PORT]
    return tree


def build(sysfs: ScstSysfs, disk: Path) -> None:
    """What an administrator would echo into the tree: the README's objects and a few more."""
    sysfs.write("handlers/vdisk_fileio/mgmt", f"add_device disk1 filename={disk}; "
                "blocksize=4096; thin_provisioned=1; rotational=0")
    sysfs.write("handlers/vdisk_nullio/mgmt", "add_device null1 size_mb=64")
    sysfs.write("handlers/vcdrom/mgmt", "add_device cd1")
    sysfs.write("devices/disk1/t10_vend_id", "ACME")
    sysfs.write("targets/iscsi/mgmt", f"add_target {IQN}")
    sysfs.write(f"targets/iscsi/{IQN}/luns/mgmt", "add disk1 0")
    sysfs.write(f"targets/iscsi/{IQN}/luns/mgmt", "add cd1 1")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/mgmt", "create hosts")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/hosts/initiators/mgmt", f"add {HOST1}")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/hosts/initiators/mgmt", f"add {HOST2}")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/hosts/luns/mgmt", "add null1 0")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/hosts/luns/mgmt", "add disk1 1 read_only=1")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/mgmt", "create empty")
    sysfs.write("targets/iscsi/mgmt", f"add_target_attribute {IQN} IncomingUser joe "
                "secretsecret12")
    sysfs.write("targets/iscsi/mgmt", f"add_target_attribute {IQN} OutgoingUser tgt "
                "mutualsecret12")
    sysfs.write(f"targets/iscsi/{IQN}/HeaderDigest", "CRC32C")
    sysfs.write(f"targets/iscsi/{IQN}/QueuedCommands", "64")
    sysfs.write(f"targets/iscsi/{IQN}/enabled", "1")
    sysfs.write("targets/iscsi/enabled", "1")
    sysfs.write("targets/iscsi/mgmt", "add_attribute IncomingUser disc discoverysecret")
    sysfs.write("targets/scst_local/mgmt", "add_target local1 session_name=s1")
    sysfs.write("targets/scst_local/local1/luns/mgmt", "add null1 0")
    sysfs.write("targets/scst_local/mgmt", "add_target idle")
    sysfs.write(f"targets/fcst/{FC_PORT}/ini_groups/mgmt", "create fc")
    sysfs.write(f"targets/fcst/{FC_PORT}/ini_groups/fc/initiators/mgmt", f"add {FC_HOST}")
    sysfs.write(f"targets/fcst/{FC_PORT}/ini_groups/fc/luns/mgmt", "add disk1 0")


def expected_document(sysfs: ScstSysfs, disk: Path) -> dict[str, Any]:
    usn = {name: sysfs.attribute(f"devices/{name}/usn").value for name in ("disk1", "null1")}
    alua = {"alua_tg_pt_gp_name": "default_tg_pt_gp"}
    chap = {"chap_userid": "joe", "chap_password": "secretsecret12",
            "chap_mutual_userid": "tgt", "chap_mutual_password": "mutualsecret12"}
    host_luns = [{"index": 0, "tpg_lun": 20000, "write_protect": False},
                 {"index": 1, "tpg_lun": 0, "write_protect": True}]
    return {
        "storage_objects": [
            {"plugin": "fileio", "name": "disk1", "dev": str(disk), "size": 8 << 20,
             "write_back": True, "aio": False, "wwn": usn["disk1"],
             # prod_id was not set: the product id stays the device name (model alias)
             "attributes": {"emulate_write_cache": 1, "block_size": 4096, "emulate_tpu": 1,
                            "emulate_tpws": 1, "is_nonrot": 1, "emulate_model_alias": 1}},
            {"plugin": "ramdisk", "name": "null1", "size": 64 << 20, "nullio": True,
             "wwn": usn["null1"],
             "attributes": {"block_size": 512, "emulate_model_alias": 1}},
        ],
        "targets": [
            {"fabric": "tcm_fc", "wwn": "naa.2000001999a834bc", "tpgs": [{
                "tag": 1, "enable": True, "portals": [],
                "luns": [{"index": 20000, "storage_object": "/backstores/fileio/disk1",
                          **alua}],
                "node_acls": [{"node_wwn": "naa.2100001b320abcde", "tag": "fc",
                               "mapped_luns": [{"index": 0, "tpg_lun": 20000,
                                                "write_protect": False}]}]}]},
            {"fabric": "iscsi", "wwn": IQN, "tpgs": [{
                "tag": 1, "enable": True,
                # null1 is only in a group: without demo mode (acl-only), as tcmu-scstd
                "attributes": {"authentication": 1, "generate_node_acls": 0,
                               "cache_dynamic_acls": 0, "demo_mode_write_protect": 0},
                "parameters": {"InitialR2T": "No", "ImmediateData": "Yes",
                               "MaxRecvDataSegmentLength": "1048576",
                               "MaxXmitDataSegmentLength": "1048576",
                               "MaxBurstLength": "1048576", "FirstBurstLength": "65536",
                               "MaxOutstandingR2T": "32", "HeaderDigest": "CRC32C",
                               "DataDigest": "None"},
                "luns": [{"index": 0, "storage_object": "/backstores/fileio/disk1", **alua},
                         {"index": 20000, "storage_object": "/backstores/ramdisk/null1",
                          **alua}],
                "portals": [{"ip_address": "0.0.0.0", "port": 3260, "iser": False,
                             "offload": False}],
                "node_acls": [{"node_wwn": HOST1, "tag": "hosts", "mapped_luns": host_luns,
                               **chap},
                              {"node_wwn": HOST2, "tag": "hosts", "mapped_luns": host_luns,
                               **chap}],
                **chap}]},
            {"fabric": "loopback", "wwn": loopback_wwn("local1"), "tpgs": [{
                "tag": 1, "enable": True, "portals": [], "node_acls": [],
                "luns": [{"index": 0, "storage_object": "/backstores/ramdisk/null1",
                          **alua}]}]},
        ],
        "fabric_modules": [{"name": "iscsi", "discovery_enable_auth": True,
                            "discovery_userid": "disc",
                            "discovery_password": "discoverysecret"}],
    }


def test_export_of_our_tree_field_by_field(tree: MountedScst, tmp_path: Path) -> None:
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(8 << 20))
    sysfs = ScstSysfs(tree.root)
    build(sysfs, disk)
    document = export_saveconfig(sysfs)
    expected = expected_document(sysfs, disk)
    assert document["storage_objects"] == expected["storage_objects"]
    assert document["fabric_modules"] == expected["fabric_modules"]
    for found, wanted in zip(document["targets"], expected["targets"], strict=True):
        assert found == wanted, found["fabric"]
    assert document == expected
    assert json.loads(json.dumps(document)) == expected  # plain JSON types only
    warnings = "\n".join(document.warnings)
    for text in (
        "devices/cd1: vcdrom devices have no LIO backstore",
        f"targets/iscsi/{IQN}/luns/1: device cd1 is not exported; LUN left out",
        "devices/null1: vdisk_nullio becomes a ramdisk with nullio=true",
        "devices/disk1/t10_vend_id: 'ACME' cannot be expressed",
        f"targets/iscsi/{IQN}/ini_groups/empty: a group without initiators",
        f"targets/iscsi/{IQN}/luns: LUNs exported only through groups: exported without "
        "demo mode (acl-only), so initiators in no group cannot log in nor see the 1 "
        "default LUN(s)",
        f"targets/iscsi/{IQN}/QueuedCommands: '64' cannot be expressed in LIO",
        "targets/scst_local/idle: no session: left out",
        f"targets/scst_local/local1: scst_local names are free text, LIO wants a WWN: "
        f"exported as {loopback_wwn('local1')}",
    ):
        assert text in warnings, text
    assert f"targets/iscsi/{IQN}/rel_tgt_id" not in warnings
    assert len(document.warnings) == 9, document.warnings
    # every device has a copy manager LUN: no target, no warning (a general note)
    assert "copy_manager" not in warnings and "copy_manager" not in json.dumps(document)
    assert any(note.startswith("copy_manager: left out")
               for note in UNEXPRESSIBLE["export"])


def test_a_target_with_groups_only_is_exported_without_demo_mode(tree: MountedScst,
                                                                   tmp_path: Path) -> None:
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(1 << 20))
    sysfs = ScstSysfs(tree.root)
    sysfs.write("handlers/vdisk_fileio/mgmt", f"add_device disk1 filename={disk}; read_only=1")
    sysfs.write("targets/iscsi/mgmt", f"add_target {IQN}")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/mgmt", "create hosts")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/hosts/initiators/mgmt", f"add {HOST1}")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/hosts/luns/mgmt", "add disk1 0")
    document = export_saveconfig(sysfs)
    tpg = document["targets"][0]["tpgs"][0]
    assert tpg["enable"] is False  # neither the target nor the driver was enabled
    assert tpg["attributes"] == {"authentication": 0, "generate_node_acls": 0,
                                 "cache_dynamic_acls": 0, "demo_mode_write_protect": 0}
    assert tpg["luns"] == [{"index": 20000, "storage_object": "/backstores/fileio/disk1",
                            "alua_tg_pt_gp_name": "default_tg_pt_gp"}]
    # a read-only fileio device: LIO's fileio has no switch, its LUNs are write-protected
    assert tpg["node_acls"] == [{"node_wwn": HOST1, "tag": "hosts", "mapped_luns": [
        {"index": 0, "tpg_lun": 20000, "write_protect": True}]}]
    assert "chap_userid" not in tpg
    assert any("exported without demo mode" in warning for warning in document.warnings)
    assert any("devices/disk1: read_only" in warning for warning in document.warnings)


# A saveconfig.json as targetcli 2.1.53 / rtslib 2.1.75 write it (keys sorted, attributes
# abridged): fileio, block, ramdisk and a tcmu-runner qcow backstore; an iSCSI target with
# CHAP on its ACLs (two sharing a tag), two usable LUNs and a qcow one; a loopback target;
# discovery CHAP.
TARGETCLI_DOCUMENT = r"""
{
  "fabric_modules": [
    {"discovery_enable_auth": true, "discovery_password": "discoverysecret1",
     "discovery_userid": "discover", "name": "iscsi"}
  ],
  "storage_objects": [
    {"aio": false,
     "alua_tpgs": [{"alua_access_state": 0, "alua_access_status": 0, "alua_access_type": 3,
                    "name": "default_tg_pt_gp", "tg_pt_gp_id": 0}],
     "attributes": {"block_size": 512, "emulate_3pc": 1, "emulate_caw": 1,
                    "emulate_model_alias": 1, "emulate_tpu": 0, "emulate_tpws": 0,
                    "emulate_write_cache": 1, "is_nonrot": 0, "pi_prot_type": 0,
                    "queue_depth": 128},
     "dev": "/srv/images/web.img", "name": "web", "plugin": "fileio", "size": 10737418240,
     "write_back": true, "wwn": "a6e6b2b4-8cf5-4a39-9a8e-4e2d5c6f1b2c"},
    {"attributes": {"block_size": 4096, "emulate_3pc": 1, "emulate_caw": 0,
                    "emulate_tpu": 1, "emulate_tpws": 0, "is_nonrot": 1, "pi_prot_type": 0},
     "dev": "/dev/vg0/db", "name": "db", "plugin": "block", "readonly": false,
     "write_back": false, "wwn": "db0serial"},
    {"attributes": {"block_size": 512, "emulate_model_alias": 1},
     "name": "scratch", "plugin": "ramdisk", "size": 1073741824, "wwn": "scratch01"},
    {"attributes": {"cmd_time_out": 30, "qfull_time_out": -1},
     "config": "qcow//srv/images/vm.qcow2", "control": "max_data_area_mb=8,hw_block_size=512",
     "hw_max_sectors": 128, "name": "vm", "plugin": "user", "size": 21474836480,
     "wwn": "0e8b1f2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b"}
  ],
  "targets": [
    {"fabric": "iscsi", "wwn": "iqn.2003-01.org.linux-iscsi.store.x8664:sn.0123456789ab",
     "tpgs": [{
       "attributes": {"authentication": 1, "cache_dynamic_acls": 0,
                      "default_cmdsn_depth": 64, "default_erl": 0, "demo_mode_discovery": 1,
                      "demo_mode_write_protect": 1, "fabric_prot_type": 0,
                      "generate_node_acls": 0, "login_keys_workaround": 1,
                      "login_timeout": 15, "netif_timeout": 2, "prod_mode_write_protect": 0,
                      "t10_pi": 0, "tpg_enabled_sendtargets": 1},
       "enable": true,
       "luns": [
         {"alias": "3f8a2c1d0e", "alua_tg_pt_gp_name": "default_tg_pt_gp", "index": 0,
          "storage_object": "/backstores/fileio/web"},
         {"alias": "a81b2c3d4e", "alua_tg_pt_gp_name": "default_tg_pt_gp", "index": 1,
          "storage_object": "/backstores/block/db"},
         {"alias": "0f1e2d3c4b", "alua_tg_pt_gp_name": "default_tg_pt_gp", "index": 2,
          "storage_object": "/backstores/user/vm"}
       ],
       "node_acls": [
         {"attributes": {"dataout_timeout": 3, "dataout_timeout_retries": 5,
                         "default_erl": 0, "nopin_response_timeout": 30,
                         "nopin_timeout": 15, "random_datain_pdu_offsets": 0,
                         "random_datain_seq_offsets": 0, "random_r2t_offsets": 0},
          "chap_password": "webhostsecret1", "chap_userid": "web",
          "mapped_luns": [
            {"alias": "9a8b7c6d5e", "index": 0, "tpg_lun": 0, "write_protect": false},
            {"alias": "1a2b3c4d5e", "index": 1, "tpg_lun": 1, "write_protect": true}],
          "node_wwn": "iqn.1994-05.com.redhat:web1", "tag": "webservers"},
         {"chap_password": "webhostsecret1", "chap_userid": "web",
          "mapped_luns": [
            {"alias": "2a2b3c4d5e", "index": 0, "tpg_lun": 0, "write_protect": false},
            {"alias": "3a2b3c4d5e", "index": 1, "tpg_lun": 1, "write_protect": true}],
          "node_wwn": "iqn.1994-05.com.redhat:web2", "tag": "webservers"},
         {"attributes": {"nopin_timeout": 60},
          "chap_mutual_password": "targetsecret12", "chap_mutual_userid": "target",
          "chap_password": "dbhostsecret12", "chap_userid": "db",
          "mapped_luns": [
            {"alias": "4a2b3c4d5e", "index": 0, "tpg_lun": 1, "write_protect": false},
            {"alias": "5a2b3c4d5e", "index": 1, "tpg_lun": 2, "write_protect": false}],
          "node_wwn": "iqn.1994-05.com.redhat:db1"}
       ],
       "parameters": {"AuthMethod": "CHAP", "DataDigest": "CRC32C,None",
                      "DataPDUInOrder": "Yes", "DataSequenceInOrder": "Yes",
                      "DefaultTime2Retain": "20", "DefaultTime2Wait": "2",
                      "ErrorRecoveryLevel": "0", "FirstBurstLength": "65536",
                      "HeaderDigest": "CRC32C,None", "IFMarkInt": "Reject", "IFMarker": "No",
                      "ImmediateData": "Yes", "InitialR2T": "Yes", "MaxBurstLength": "262144",
                      "MaxConnections": "1", "MaxOutstandingR2T": "1",
                      "MaxRecvDataSegmentLength": "8192",
                      "MaxXmitDataSegmentLength": "262144", "OFMarkInt": "Reject",
                      "OFMarker": "No", "TargetAlias": "LIO Target"},
       "portals": [{"ip_address": "0.0.0.0", "iser": false, "offload": false, "port": 3260}],
       "tag": 1}]},
    {"fabric": "loopback", "wwn": "naa.5001405abcdef012",
     "tpgs": [{"attributes": {"fabric_prot_type": 0}, "enable": true,
               "luns": [{"alias": "6a2b3c4d5e", "alua_tg_pt_gp_name": "default_tg_pt_gp",
                         "index": 0, "storage_object": "/backstores/ramdisk/scratch"}],
               "node_acls": [], "parameters": {}, "portals": [], "tag": 1}]}
  ]
}
"""

# What the import writes for it, after the header: scst.conf in -write_config's layout (the
# one scst.conf writer): names and attribute lines sorted, scstadmin's blank lines.
TARGETCLI_CONF_BODY = """\

HANDLER vdisk_blockio {
\tDEVICE db {
\t\tblocksize 4096
\t\tfilename /dev/vg0/db
\t\trotational 0
\t\tthin_provisioned 1
\t\tusn db0serial
\t}
}

HANDLER vdisk_fileio {
\tDEVICE web {
\t\tfilename /srv/images/web.img
\t}
}

HANDLER vdisk_nullio {
\tDEVICE scratch {
\t\tsize 1073741824
\t\tusn scratch01
\t}
}

TARGET_DRIVER iscsi {
\tIncomingUser "discover discoverysecret1"
\tenabled 1

\tTARGET iqn.2003-01.org.linux-iscsi.store.x8664:sn.0123456789ab {
\t\tDataDigest CRC32C,None
\t\tHeaderDigest CRC32C,None
\t\tIncomingUser "db dbhostsecret12"
\t\tIncomingUser "web webhostsecret1"
\t\tInitialR2T Yes
\t\tMaxBurstLength 262144
\t\tMaxOutstandingR2T 1
\t\tMaxRecvDataSegmentLength 8192
\t\tMaxXmitDataSegmentLength 262144
\t\tOutgoingUser "target targetsecret12"
\t\tenabled 1

\t\tGROUP iqn.1994-05.com.redhat:db1 {
\t\t\tLUN 0 db

\t\t\tINITIATOR iqn.1994-05.com.redhat:db1
\t\t}

\t\tGROUP webservers {
\t\t\tLUN 0 web
\t\t\tLUN 1 db {
\t\t\t\tread_only 1
\t\t\t}

\t\t\tINITIATOR iqn.1994-05.com.redhat:web1

\t\t\tINITIATOR iqn.1994-05.com.redhat:web2
\t\t}
\t}
}

TARGET_DRIVER scst_local {
\tTARGET naa.5001405abcdef012 {
\t\tsession_name lio_nexus

\t\tLUN 0 scratch
\t}
}

"""

TARGETCLI_WARNINGS = [
    "$.storage_objects[0].size: SCST takes the size from the file: /srv/images/web.img must "
    "exist with 10737418240 bytes (LIO creates it)",
    "$.storage_objects[0].wwn: the unit serial 'a6e6b2b4-8cf5-4a39-9a8e-4e2d5c6f1b2c' does "
    "not fit SCST's usn (20 characters); SCST generates one",
    "$.storage_objects[1].attributes.emulate_caw: 0 has no vdisk counterpart; dropped",
    "$.storage_objects[2]: a ramdisk keeps written data; vdisk_nullio discards it",
    "$.storage_objects[3]: user:qcow (a TCMU handler such as tcmu-runner's) has no SCST "
    "vdisk counterpart; left out with its LUNs",
    "$.targets[0].tpgs[0]: SCST's CHAP accounts are per target: every IncomingUser may log "
    "in as any initiator",
    "$.targets[0].tpgs[0].node_acls[2].attributes: nopin_timeout: no per-initiator settings "
    "in SCST (its timers are per target: NopInInterval, NopInTimeout, RspTimeout); dropped",
    "$.targets[0].tpgs[0].luns: no demo mode: initiators without an ACL cannot log in, so "
    "the target's default LUN set is left empty (only the groups' LUNs are kept; SCST would "
    "show the default set to everyone)",
    "$.targets[0].tpgs[0].node_acls[2].mapped_luns: /backstores/user/vm was left out; so is "
    "this LUN",
]


def test_import_of_a_targetcli_document() -> None:
    text = import_saveconfig(json.loads(TARGETCLI_DOCUMENT))
    assert text.warnings == TARGETCLI_WARNINGS
    header, _, body = str(text).partition("\n\n")
    assert body == TARGETCLI_CONF_BODY
    assert header.splitlines()[0].startswith("# scst.conf converted from")
    assert header.splitlines()[2:] == [f"#   {warning}" for warning in TARGETCLI_WARNINGS]


def test_import_in_demo_mode_and_unenforced_chap() -> None:
    document = json.loads(TARGETCLI_DOCUMENT)
    tpg = document["targets"][0]["tpgs"][0]
    tpg["attributes"].update(generate_node_acls=1, authentication=0)
    tpg["node_acls"] = []
    tpg["chap_userid"], tpg["chap_password"] = "all", "allsecret1234"
    tpg["luns"].append({"index": 20000, "storage_object": "/backstores/ramdisk/scratch"})
    tpg["enable"] = False
    text = import_saveconfig(document)
    target = str(text).split("\tTARGET iqn.")[1].split("\n\t}\n")[0]
    # demo mode: TPG LUNs are the default LUN set, write-protected as demo_mode_write_protect
    # says; no accounts as LIO does not enforce them; the disabled TPG stays disabled
    assert "IncomingUser" not in target
    assert "\t\tenabled 0\n" in target
    assert "\t\tLUN 0 web {\n\t\t\tread_only 1\n\t\t}\n" in target
    assert "\t\tLUN 1 db {" in target and "LUN 2" not in target and "GROUP" not in target
    joined = "\n".join(text.warnings)
    assert "attributes.authentication: 0: LIO does not enforce the CHAP accounts" in joined
    assert "TPG LUN 20000 is beyond SCST's LUN range" in joined
    assert "$.targets[0].tpgs[0].luns: /backstores/user/vm was left out" in joined


ROUND_TRIP_CONF_BODY = """\

HANDLER vdisk_fileio {{
\tDEVICE disk1 {{
\t\tblocksize 4096
\t\tfilename {disk}
\t\trotational 0
\t\tthin_provisioned 1
\t\tusn {usn1}
\t}}
}}

HANDLER vdisk_nullio {{
\tDEVICE null1 {{
\t\tsize 67108864
\t\tusn {usn2}
\t}}
}}

TARGET_DRIVER fcst {{
\tTARGET {fc_port} {{
\t\tHW_TARGET

\t\tenabled 1

\t\tGROUP fc {{
\t\t\tLUN 0 disk1

\t\t\tINITIATOR {fc_host}
\t\t}}
\t}}
}}

TARGET_DRIVER iscsi {{
\tIncomingUser "disc discoverysecret"
\tenabled 1

\tTARGET {iqn} {{
\t\tHeaderDigest CRC32C
\t\tIncomingUser "joe secretsecret12"
\t\tOutgoingUser "tgt mutualsecret12"
\t\tenabled 1

\t\tGROUP hosts {{
\t\t\tLUN 0 null1
\t\t\tLUN 1 disk1 {{
\t\t\t\tread_only 1
\t\t\t}}

\t\t\tINITIATOR {host1}

\t\t\tINITIATOR {host2}
\t\t}}
\t}}
}}

TARGET_DRIVER scst_local {{
\tTARGET {local} {{
\t\tsession_name lio_nexus

\t\tLUN 0 null1
\t}}
}}

"""


def test_round_trip_tree_to_json_to_conf(tree: MountedScst, tmp_path: Path) -> None:
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(8 << 20))
    sysfs = ScstSysfs(tree.root)
    build(sysfs, disk)
    document = export_saveconfig(sysfs)
    text = import_saveconfig(json.loads(json.dumps(document, sort_keys=True)))
    body = str(text).partition("\n\n")[2]
    assert body == ROUND_TRIP_CONF_BODY.format(
        disk=disk, usn1=sysfs.attribute("devices/disk1/usn").value,
        usn2=sysfs.attribute("devices/null1/usn").value, iqn=IQN, host1=HOST1, host2=HOST2,
        local=loopback_wwn("local1"), fc_port=FC_PORT, fc_host=FC_HOST)
    # what the trip loses, said by the import: the default LUN set of the acl-only target
    # (without demo mode nobody outside the ACLs could reach it: keeping it would grant more)
    assert sorted(text.warnings) == [
        "$.storage_objects[0].size: SCST takes the size from the file: "
        f"{disk} must exist with {8 << 20} bytes (LIO creates it)",
        "$.targets[1].tpgs[0].chap_userid: without demo mode LIO never uses the TPG's "
        "account; dropped",
        "$.targets[1].tpgs[0].luns: no demo mode: initiators without an ACL cannot log in, "
        "so the target's default LUN set is left empty (only the groups' LUNs are kept; SCST "
        "would show the default set to everyone)",
    ]
    # and the same document again gives the same text: nothing depends on dict order
    assert import_saveconfig(copy.deepcopy(dict(document))) == text


def _malformed() -> list[tuple[str, Any, str]]:
    def changed(edit: Any) -> dict[str, Any]:
        document = json.loads(TARGETCLI_DOCUMENT)
        edit(document)
        return document

    def tpg(document: dict[str, Any]) -> dict[str, Any]:
        return document["targets"][0]["tpgs"][0]

    return [
        ("not an object", [], "$"),
        ("storage_objects not a list", {"storage_objects": {}}, "$.storage_objects"),
        ("no name", changed(lambda d: d["storage_objects"][1].pop("name")),
         "$.storage_objects[1].name"),
        ("unknown plugin", changed(lambda d: d["storage_objects"][2].update(plugin="nvme")),
         "$.storage_objects[2].plugin"),
        ("relative dev", changed(lambda d: d["storage_objects"][0].update(dev="web.img")),
         "$.storage_objects[0].dev"),
        ("ramdisk without size", changed(lambda d: d["storage_objects"][2].pop("size")),
         "$.storage_objects[2].size"),
        ("size as text", changed(lambda d: d["storage_objects"][0].update(size="10G")),
         "$.storage_objects[0].size"),
        ("odd block size",
         changed(lambda d: d["storage_objects"][0]["attributes"].update(block_size=520)),
         "$.storage_objects[0].attributes.block_size"),
        ("duplicate object", changed(lambda d: d["storage_objects"].append(
            dict(d["storage_objects"][1], plugin="iblock"))), "$.storage_objects[4]"),
        ("target without fabric", changed(lambda d: d["targets"][1].pop("fabric")),
         "$.targets[1].fabric"),
        ("LUN of a missing object", changed(lambda d: tpg(d)["luns"][1].update(
            storage_object="/backstores/fileio/db")), "$.targets[0].tpgs[0].luns[1]"
         ".storage_object"),
        ("LUN index too big", changed(lambda d: tpg(d)["luns"][0].update(index=70000)),
         "$.targets[0].tpgs[0].luns[0].index"),
        ("mapped LUN of a missing TPG LUN", changed(
            lambda d: tpg(d)["node_acls"][2]["mapped_luns"][0].update(tpg_lun=7)),
         "$.targets[0].tpgs[0].node_acls[2].mapped_luns[0].tpg_lun"),
        ("write_protect as text", changed(
            lambda d: tpg(d)["node_acls"][0]["mapped_luns"][1].update(write_protect="yes")),
         "$.targets[0].tpgs[0].node_acls[0].mapped_luns[1].write_protect"),
        ("second ACL for an initiator", changed(lambda d: tpg(d)["node_acls"].append(
            dict(tpg(d)["node_acls"][0], node_wwn="IQN.1994-05.com.redhat:web1"))),
         "$.targets[0].tpgs[0].node_acls[3].node_wwn"),
        ("portal without port", changed(lambda d: tpg(d)["portals"][0].pop("port")),
         "$.targets[0].tpgs[0].portals[0].port"),
        ("parameter not text", changed(lambda d: tpg(d)["parameters"].update(
            MaxBurstLength=262144)), "$.targets[0].tpgs[0].parameters.MaxBurstLength"),
        ("same target twice", changed(lambda d: d["targets"].append(d["targets"][1])),
         "$.targets[2]"),
    ]


@pytest.mark.parametrize(("document", "path"),
                         [pytest.param(document, path, id=name)
                          for name, document, path in _malformed()])
def test_malformed_documents_are_refused_with_the_path(document: Any, path: str) -> None:
    with pytest.raises(SaveconfigError) as caught:
        import_saveconfig(document)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: ")


def test_cli_export_and_import(tree: MountedScst, tmp_path: Path) -> None:
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(8 << 20))
    build(ScstSysfs(tree.root), disk)
    exported = tmp_path / "saveconfig.json"
    run = [sys.executable, "-m", "tcmu_scst.config.saveconfig"]
    result = subprocess.run([*run, "export", "--root", str(tree.root), str(exported)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "saveconfig: warning: devices/cd1: vcdrom devices" in result.stderr
    assert os.stat(exported).st_mode & 0o777 == 0o600  # CHAP secrets inside
    text = exported.read_text()
    assert json.loads(text) == export_saveconfig(ScstSysfs(tree.root))
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"  # as rtslib
    conf = tmp_path / "scst.conf"
    result = subprocess.run([*run, "import", str(exported), str(conf)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert conf.read_text() == import_saveconfig(json.loads(text))

    broken = tmp_path / "broken.json"
    broken.write_text('{"storage_objects": [{"plugin": "fileio"}]}')
    result = subprocess.run([*run, "import", str(broken), str(tmp_path / "out.conf")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr == "saveconfig: error: $.storage_objects[0].name: missing\n"
    assert not (tmp_path / "out.conf").exists()
    broken.write_text("{not json")
    result = subprocess.run([*run, "import", str(broken), str(tmp_path / "out.conf")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "not JSON" in result.stderr
    result = subprocess.run([*run, "export", "--root", str(tmp_path), str(exported)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "no SCST sysfs tree" in result.stderr
    assert result.stderr.count("\n") == 1


def test_both_directions_ask_the_target_driver_objects() -> None:
    """The conversion states no driver fact of its own: each driver LIO holds is exported
    and imported by its object (rtslib's fabric names pinned here), and the iSCSI keys it
    writes and compares are the tree's, split as the daemon writes them."""
    held = set(lio_drivers())
    assert set(exporter._TARGET_EXPORTS) == held == set(importer._TARGET_IMPORTS)
    assert FABRIC_DRIVERS == {"iscsi": ISCSI_DRIVER, "loopback": LOCAL_DRIVER,
                              "tcm_fc": FCST_DRIVER}
    tree_defaults = {name: key.default for name, key in ISCSI_KEYS.items()}
    assert tree_defaults == {**ISCSI_LAYOUT.lio_keys, **ISCSI_LAYOUT.scst_only_keys}
    assert ISCSI_LAYOUT.portal == ("0.0.0.0", 3260)


RTSLIB_CHECK = r"""
import inspect, json, sys
from rtslib_fb import tcm
document = json.load(sys.stdin)
for so in document["storage_objects"]:
    kwargs = {key: value for key, value in so.items()
              if key not in ("exists", "attributes", "plugin", "buffered_mode", "alua_tpgs")}
    inspect.signature(tcm.so_mapping[so["plugin"]]).bind(**kwargs)
    print("ok", so["plugin"], so["name"])
"""


def test_storage_objects_fit_the_installed_rtslib(tree: MountedScst, tmp_path: Path) -> None:
    """rtslib passes each storage object's keys to its class as keyword arguments: a key the
    installed rtslib does not know would make the restore fail."""
    python = shutil.which("python3", path="/usr/bin")
    probe = subprocess.run([python or "python3", "-c", "import rtslib_fb"],
                           capture_output=True, check=False)
    if python is None or probe.returncode != 0:
        pytest.skip("no system rtslib_fb here")
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(8 << 20))
    build(ScstSysfs(tree.root), disk)
    document = export_saveconfig(ScstSysfs(tree.root))
    result = subprocess.run([python, "-c", RTSLIB_CHECK], input=json.dumps(document),
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["ok fileio disk1", "ok ramdisk null1"]


def test_imported_conf_applies_with_the_config_tool(tree: MountedScst, tmp_path: Path) -> None:
    """tree -> saveconfig.json -> scst.conf, applied by tcmu-scst-admin to the cleared tree,
    brings back every device, target, group, initiator and LUN the JSON could carry."""
    from tcmu_scst.config import cli  # noqa: PLC0415

    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(8 << 20))
    sysfs = ScstSysfs(tree.root)
    build(sysfs, disk)
    conf = tmp_path / "imported.conf"
    conf.write_text(import_saveconfig(export_saveconfig(sysfs)))
    root = ["--root", str(tree.root)]
    assert cli.main(["-clear_config", "-force", "-noprompt", *root]) == 0
    assert sysfs.subdirectories("devices") == []
    assert cli.main(["-config", str(conf), "-noprompt", *root]) == 0
    # vcdrom has no LIO counterpart: it and its LUN are the JSON's loss, the rest is back
    assert sysfs.subdirectories("devices") == ["disk1", "null1"]
    assert sysfs.attribute("devices/disk1/blocksize").value == "4096"
    target = f"targets/iscsi/{IQN}"
    assert sysfs.subdirectories(f"{target}/luns") == []  # acl-only in LIO: see the round trip
    assert sysfs.subdirectories(f"{target}/ini_groups/hosts/luns") == ["0", "1"]
    assert sorted(sysfs.entries(f"{target}/ini_groups/hosts/initiators")) == sorted(
        ["mgmt", HOST1, HOST2])
    assert sysfs.attribute(f"{target}/enabled").value == "1"
    assert sysfs.readlink(f"targets/fcst/{FC_PORT}/ini_groups/fc/luns/0/device") == "disk1"
    local = loopback_wwn("local1")  # rtslib keeps no nexus name: the WWN names the target
    assert sysfs.readlink(f"targets/scst_local/{local}/luns/0/device") == "null1"
