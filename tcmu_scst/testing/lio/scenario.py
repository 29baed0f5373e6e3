"""Every behaviour the emulation claims, as one script of configfs calls.

:mod:`.conformance` runs this script on the real kernel (in the test VM) and on the
emulation and compares the outcome of every step, so a claim that the kernel does not keep
fails a test instead of misleading the unit tests.  Steps are plain tuples
(``("write", path, value)``, ``("snapshot", path)``, ...) with paths relative to
``target/``; the script is deterministic and ends with configfs as it started.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Step = tuple[str, ...]

SO = "core/user_1/so1"
SO2 = "core/user_1/so2"
FILEIO = "core/fileio_2/f1"
IMAGE = "/tmp/tcmu-scst-conformance.img"
T1 = "iscsi/iqn.2003-01.org.example:t1"
T2 = "iscsi/iqn.2003-01.org.example:t2"
TPG = f"{T1}/tpgt_1"
TPG_B = f"{T2}/tpgt_1"
ACL = f"{TPG}/acls/iqn.1994-05.com.example:i1"
LOOP = "loopback/naa.5001405000000abc"
LOOP_FC = "loopback/fc.5001405000000abd"
FC = "fc/20:00:00:19:99:a8:34:bc"
FC_ACL = f"{FC}/tpgt_1/acls/21:00:00:19:99:a8:34:bd"
CONTROL = ("dev_config=vdisk_nullio/so1,dev_size=1048576,hw_block_size=512,"
           "hw_max_sectors=2048,nl_reply_supported=-1")


@dataclass
class Script:
    steps: list[Step] = field(default_factory=list)

    def add(self, *step: str) -> None:
        self.steps.append(step)

    def mkdir(self, *paths: str) -> None:
        for path in paths:
            self.add("mkdir", path)

    def rmdir(self, *paths: str) -> None:
        for path in paths:
            self.add("rmdir", path)

    def write(self, path: str, *values: str) -> None:
        for value in values:
            self.add("write", path, value)

    def read(self, *paths: str) -> None:
        for path in paths:
            self.add("read", path)

    def write_read(self, path: str, *values: str) -> None:
        for value in values:
            self.add("write", path, value)
            self.add("read", path)

    def link(self, target: str, link: str) -> None:
        self.add("symlink", target, link)

    def unlink(self, *paths: str) -> None:
        for path in paths:
            self.add("unlink", path)

    def snapshot(self, path: str) -> None:
        self.add("snapshot", path)


def _bounds(script: Script, path: str, low: int, high: int) -> None:
    values = [str(low), str(high), str(high + 1)] + ([str(low - 1)] if low > -1 else [])
    script.write_read(path, *values)
    script.write(path, str(low))


def core(script: Script) -> None:
    s = script
    s.snapshot("")
    s.mkdir("core/badname", "core/foo_1", "core/user_x", "core/user_", "core/user_-1")
    s.mkdir("core/user_1", "core/user_1", "core/rd_mcp_4")
    s.rmdir("core/rd_mcp_4", "core/alua", "core/nothere")
    s.mkdir("core/user_9/a/b", SO)
    s.snapshot("core/user_1")
    s.write(f"{SO}/nonexistent", "1")
    s.write(f"{SO}/info", "1")
    s.read(f"{SO}/control")
    s.write(f"{SO}/attrib/hw_block_size", "4096")
    s.rmdir(f"{SO}/attrib")
    s.mkdir(f"{SO}/attrib/x", f"{SO}/foo")
    s.write(f"{SO}/control", "", "hw_block_size=0", "hw_max_sectors=0", "dev_size=abc",
            "bogus=1", "max_data_area_mb=64")
    s.read(f"{SO}/info")
    s.write(f"{SO}/control", CONTROL)
    s.read(f"{SO}/info")
    s.write(f"{SO}/enable", "0", "2", "x")
    s.write_read(f"{SO}/attrib/cmd_time_out", "xyz", "45\n")
    s.write_read(f"{SO}/attrib/qfull_time_out", "-2", "-1", "5")
    for name in ("emulate_write_cache", "alua_support", "pgr_support", "emulate_pr",
                 "enforce_pr_isids", "force_pr_aptpl", "tmr_notification"):
        s.write_read(f"{SO}/attrib/{name}", "2", "abc", "1", "0")
    s.write_read(f"{SO}/attrib/enforce_pr_isids", "1")
    s.write_read(f"{SO}/attrib/alua_support", "1")
    s.write_read(f"{SO}/attrib/pgr_support", "1")
    s.write_read(f"{SO}/attrib/emulate_pr", "1")
    s.write_read(f"{SO}/attrib/nl_reply_supported", "abc", "-1")
    s.write_read(f"{SO}/wwn/vpd_unit_serial", "abc123\n")
    s.write_read(f"{SO}/wwn/vendor_id", "TCMUSCST")
    s.write(f"{SO}/action/block_dev", "1")
    s.write(f"{SO}/action/reset_ring", "1")
    s.write_read(f"{SO}/enable", "1", "1")
    s.write(f"{SO}/control", "max_data_area_mb=32", "hw_max_sectors=1024")
    s.read(f"{SO}/info")
    s.write_read(f"{SO}/action/block_dev", "1", "0")
    s.write_read(f"{SO}/attrib/dev_size", "2097152")
    s.write_read(f"{SO}/attrib/dev_config", "vdisk_nullio/other")
    s.write_read(f"{SO}/attrib/emulate_write_cache", "1")
    s.write_read(f"{SO}/attrib/cmd_time_out", "30")
    s.snapshot(SO)
    s.add("uio")
    s.mkdir(SO2, "core/fileio_2", FILEIO)
    s.add("file", IMAGE)
    s.write(f"{FILEIO}/control", f"fd_dev_name={IMAGE},fd_dev_size=1048576")
    s.write(f"{FILEIO}/enable", "1")


def iscsi_objects(script: Script) -> None:
    s = script
    s.mkdir("iscsi")
    s.snapshot("iscsi")
    s.mkdir("iscsi/iqn." + "q" * 220, "iscsi/iqn." + "q" * 219)
    s.rmdir("iscsi/iqn." + "q" * 219)
    s.mkdir(T1)
    s.snapshot(T1)
    s.write_read(f"{T1}/param/cmd_completion_affinity", "-2", "1", "2", "-3", "x", "-1")
    s.mkdir(f"{T1}/tpg1", f"{T1}/tpgt_x", f"{T1}/tpgt_65536", f"{T1}/tpgt_0", TPG)
    s.rmdir(f"{T1}/tpgt_0")
    s.snapshot(TPG)
    s.write_read(f"{TPG}/enable", "1", "1", "0", "0", "2")
    s.mkdir(f"{TPG}/lun/foo", f"{TPG}/lun/lun_x", f"{TPG}/lun/lun_-1", f"{TPG}/lun/lun_0")
    s.snapshot(f"{TPG}/lun/lun_0")
    s.link(SO2, f"{TPG}/lun/lun_0/so2")
    s.link("iscsi", f"{TPG}/lun/lun_0/bad")
    s.link(f"{SO}/attrib/dev_size", f"{TPG}/lun/lun_0/attr")
    s.link(SO, f"{TPG}/lun/lun_0/so1")
    s.link(SO, f"{TPG}/lun/lun_0/again")
    s.snapshot(f"{TPG}/lun/lun_0")
    s.read(f"{SO}/info")
    s.rmdir(SO, "core/user_1", f"{TPG}/lun/lun_0")
    s.write(f"{SO}/attrib/cmd_time_out", "50")
    s.write(f"{SO}/wwn/vpd_unit_serial", "zzz")
    s.write(f"{SO}/wwn/vendor_id", "OTHER")
    s.write(f"{SO}/control", "dev_size=1048576")
    s.mkdir(f"{TPG}/lun/lun_1")


def iscsi_portals(script: Script) -> None:
    s = script
    np = f"{TPG}/np"
    s.mkdir(f"{np}/foo", f"{np}/127.0.0.1", f"{np}/127.0.0.1:3260", f"{np}/[::1]:3260",
            f"{np}/::1:3260", f"{np}/127.0.0.1:99999", f"{np}/localhost:3260",
            f"{np}/127.1:3260", f"{np}/127.0.0.1:0", f"{np}/127.0.0.1:3260")
    s.rmdir(f"{np}/127.0.0.1:0")
    s.snapshot(f"{np}/127.0.0.1:3260")
    s.write_read(f"{np}/127.0.0.1:3260/iser", "2", "0")
    s.mkdir(f"{T1}/tpgt_2", f"{T1}/tpgt_2/np/127.0.0.1:3260")
    s.rmdir(f"{T1}/tpgt_2")
    s.mkdir(T2, TPG_B, f"{TPG_B}/np/127.0.0.1:3260", f"{TPG_B}/np/0.0.0.0:3261",
            f"{np}/127.0.0.1:3261", f"{np}/[::1]:3261", f"{np}/[::]:3262",
            f"{TPG_B}/np/[::1]:3262", f"{TPG_B}/np/0.0.0.0:3262", f"{TPG_B}/np/0.0.0.0:3260")
    s.mkdir(f"{np}/127.0.0.1:3263", f"{TPG_B}/np/[::]:3263", f"{np}/[::1]:3264",
            f"{TPG_B}/np/0.0.0.0:3264", f"{np}/0.0.0.0:3265", f"{T1}/tpgt_3",
            f"{T1}/tpgt_3/np/0.0.0.0:3265", f"{T1}/tpgt_3/np/[::]:3266",
            f"{np}/0.0.0.0:3266")
    s.rmdir(f"{T1}/tpgt_3/np/0.0.0.0:3265", f"{T1}/tpgt_3/np/[::]:3266", f"{T1}/tpgt_3")
    for portal in ("[::1]:3261", "127.0.0.1:3263", "[::1]:3264", "0.0.0.0:3265",
                   "0.0.0.0:3266"):
        s.rmdir(f"{np}/{portal}")
    for portal in ("127.0.0.1:3260", "0.0.0.0:3260", "0.0.0.0:3261", "0.0.0.0:3262",
                   "[::]:3263", "0.0.0.0:3264"):
        s.rmdir(f"{TPG_B}/np/{portal}")
    s.rmdir(f"{np}/[::]:3262")
    s.rmdir(f"{np}/[::1]:3260")


def iscsi_settings(script: Script) -> None:
    s = script
    attrib = f"{TPG}/attrib"
    for name, low, high in (("login_timeout", 5, 30), ("netif_timeout", 2, 15),
                            ("default_cmdsn_depth", 1, 512), ("default_erl", 0, 2)):
        _bounds(s, f"{attrib}/{name}", low, high)
    s.write_read(f"{attrib}/fabric_prot_type", "2", "3", "4", "0")
    for name in ("demo_mode_discovery", "demo_mode_write_protect", "prod_mode_write_protect",
                 "t10_pi", "tpg_enabled_sendtargets", "login_keys_workaround"):
        s.write(f"{attrib}/{name}", "2", "abc")
    s.write(f"{attrib}/nosuch", "1")
    s.write_read(f"{attrib}/generate_node_acls", "1")
    s.write_read(f"{attrib}/cache_dynamic_acls", "0")
    s.write_read(f"{attrib}/generate_node_acls", "0")
    s.read(f"{attrib}/cache_dynamic_acls")
    s.write_read(f"{attrib}/cache_dynamic_acls", "0")
    for value in ("0", "1", "0"):
        s.write(f"{attrib}/authentication", value)
        s.read(f"{TPG}/param/AuthMethod")
    s.write_read(f"{TPG}/param/AuthMethod", "None", "KRB5,CHAP", "Foo")
    s.write(f"{attrib}/authentication", "1")
    s.read(f"{TPG}/param/AuthMethod")
    s.write_read(f"{TPG}/param/AuthMethod", "CHAP")
    param = f"{TPG}/param"
    for name in ("InitialR2T", "ImmediateData", "DataPDUInOrder", "DataSequenceInOrder",
                 "IFMarker", "OFMarker"):
        s.write_read(f"{param}/{name}", "Maybe", "no", "No", "Yes\n")
    for name, low, high in (("MaxRecvDataSegmentLength", 512, 16777215),
                            ("MaxXmitDataSegmentLength", 512, 16777215),
                            ("MaxBurstLength", 512, 16777215),
                            ("FirstBurstLength", 512, 16777215),
                            ("MaxOutstandingR2T", 1, 65535), ("MaxConnections", 1, 65535),
                            ("DefaultTime2Wait", 0, 3600), ("DefaultTime2Retain", 0, 3600),
                            ("ErrorRecoveryLevel", 0, 2)):
        _bounds(s, f"{param}/{name}", low, high)
    s.write_read(f"{param}/DefaultTime2Wait", "abc", "12abc", "-5", "0x10", " 7", "2")
    s.write_read(f"{param}/MaxConnections", "abc", "0x10", "1")
    s.write_read(f"{param}/MaxBurstLength", "-1", "262144")
    for name in ("HeaderDigest", "DataDigest"):
        s.write_read(f"{param}/{name}", "CRC32C", "Foo", "None,CRC32C", "CRC32C,None")
    s.write_read(f"{param}/TargetAlias", "my alias", "LIO Target")
    s.write(f"{param}/Bogus", "1")
    s.write(f"{TPG}/enable", "1")
    s.write_read(f"{param}/MaxBurstLength", "1048576")
    s.write_read(f"{attrib}/login_timeout", "20")
    s.snapshot(f"{TPG}/attrib")
    s.snapshot(f"{TPG}/param")


def iscsi_auth(script: Script) -> None:
    s = script
    auth = f"{TPG}/auth"
    s.write(f"{auth}/userid", "joe")
    s.write(f"{auth}/password", "secretsecret")
    s.snapshot(auth)
    s.write(f"{auth}/userid_mutual", "tgt")
    s.write(f"{auth}/password_mutual", "tsecretsecret")
    s.snapshot(auth)
    s.write_read(f"{auth}/userid", "NULL", "", "abc\n")
    s.read(f"{auth}/authenticate_target")
    s.write(f"{auth}/authenticate_target", "0")
    s.write_read(f"{auth}/password", "x" * 300, "y" * 255)
    s.write(f"{auth}/password_mutual", "NULL")
    s.read(f"{auth}/authenticate_target")
    discovery = "iscsi/discovery_auth"
    s.write_read(f"{discovery}/enforce_discovery_auth", "2", "1", "0")
    s.write_read(f"{discovery}/password", "p" * 256, "p" * 255, "NULL")
    s.write(f"{discovery}/authenticate_target", "1")


def iscsi_acls(script: Script) -> None:
    s = script
    s.link(SO, f"{TPG}/lun/lun_1/so1")
    s.mkdir(f"{T2}/tpgt_1/lun/lun_0", f"{TPG}/lun/lun_2", ACL)
    s.link(SO, f"{T2}/tpgt_1/lun/lun_0/so1")
    s.snapshot(ACL)
    s.mkdir(f"{ACL}/foo", f"{ACL}/lun_3")
    s.snapshot(f"{ACL}/lun_3")
    s.write_read(f"{ACL}/lun_3/write_protect", "1")
    s.link(f"{TPG}/lun/lun_1", f"{ACL}/lun_3/m")
    s.read(f"{ACL}/lun_3/write_protect")
    s.link(f"{TPG}/lun/lun_0", f"{ACL}/lun_3/m2")
    s.mkdir(f"{ACL}/lun_4")
    s.link(f"{T2}/tpgt_1/lun", f"{ACL}/lun_4/bad")
    s.link(f"{T2}/tpgt_1/lun/lun_0", f"{ACL}/lun_4/other")
    s.link(SO, f"{ACL}/lun_4/so")
    s.link(f"{TPG}/lun/lun_2", f"{ACL}/lun_4/empty")
    s.write_read(f"{ACL}/lun_3/write_protect", "1", "2", "0")
    s.write_read(f"{ACL}/tag", "grp1", "NULL", "g" * 64, "g" * 63, "g1\n", "NULL")
    for value in ("0", "1", "512", "513", "64", "0", "64"):  # 0 is taken as 1
        s.write_read(f"{ACL}/cmdsn_depth", value)
    for name, low, high in (("dataout_timeout", 2, 60), ("dataout_timeout_retries", 1, 15),
                            ("nopin_timeout", 3, 60), ("nopin_response_timeout", 3, 60),
                            ("default_erl", 0, 2), ("random_r2t_offsets", 0, 1),
                            ("authentication", -1, 1)):
        _bounds(s, f"{ACL}/attrib/{name}", low, high)
    s.write_read(f"{ACL}/auth/password", "y" * 256, "y" * 255)
    s.write(f"{ACL}/auth/userid", "u" * 256)
    s.write(f"{TPG}/attrib/prod_mode_write_protect", "1")
    s.mkdir(f"{ACL}/lun_5")
    s.link(f"{TPG}/lun/lun_1", f"{ACL}/lun_5/m")
    s.read(f"{ACL}/lun_5/write_protect")
    s.write(f"{TPG}/attrib/prod_mode_write_protect", "0")
    s.snapshot(ACL)
    s.snapshot(T1)
    # removal rules
    s.rmdir(f"{TPG}/lun/lun_1")
    s.unlink(f"{TPG}/lun/lun_1/so1")
    s.read(f"{ACL}/lun_3/write_protect")
    s.link(SO, f"{TPG}/lun/lun_1/so1")
    s.read(f"{ACL}/lun_3/write_protect")
    s.rmdir(f"{TPG}/lun/lun_1", ACL, f"{ACL}/lun_3", TPG, T1, f"{TPG}/lun", f"{TPG}/attrib")
    s.unlink(f"{TPG}/enable", f"{TPG}/lun")
    s.rmdir(f"{TPG}/enable")
    s.read(f"{TPG}/lun")
    s.write(f"{TPG}/lun", "1")
    s.add("readlink", f"{TPG}/enable")
    s.add("listdir", f"{TPG}/enable")
    s.unlink(f"{ACL}/lun_3/m", f"{ACL}/lun_5/m")
    s.rmdir(f"{ACL}/lun_3", f"{ACL}/lun_4", f"{ACL}/lun_5", ACL)
    s.unlink(f"{TPG}/lun/lun_1/so1", f"{TPG}/lun/lun_0/so1", f"{T2}/tpgt_1/lun/lun_0/so1")
    s.rmdir(f"{TPG}/lun/lun_0", f"{TPG}/lun/lun_1", f"{TPG}/lun/lun_2",
            f"{T2}/tpgt_1/lun/lun_0", f"{TPG}/np/127.0.0.1:3260")
    s.read(f"{TPG}/enable")
    s.rmdir(TPG, T1, TPG_B, T2)
    s.snapshot("iscsi")
    s.rmdir("iscsi")


def loopback(script: Script) -> None:
    s = script
    tpg = f"{LOOP}/tpgt_1"
    s.mkdir("loopback")
    s.snapshot("loopback")
    s.mkdir("loopback/foo", LOOP)
    s.snapshot(LOOP)
    s.mkdir(tpg)
    s.snapshot(tpg)
    s.write(f"{tpg}/nexus", "NULL", "iqn.1994-05.com.example:i", "foo",
            "naa.5001405000000def", "naa.5001405000000ddd")
    s.read(f"{tpg}/nexus")
    s.mkdir(f"{tpg}/np/x")
    s.write_read(f"{tpg}/transport_status", "offline", "foo", "online")
    s.mkdir(f"{tpg}/lun/lun_0", f"{tpg}/lun/lun_3")
    s.link(FILEIO, f"{tpg}/lun/lun_0/f1")
    s.link(FILEIO, f"{tpg}/lun/lun_3/f1")
    s.add("scsi_devices")
    s.write(f"{tpg}/nexus", "NULL")
    s.rmdir(tpg, LOOP)
    s.unlink(f"{tpg}/lun/lun_0/f1", f"{tpg}/lun/lun_3/f1")
    s.rmdir(f"{tpg}/lun/lun_0", f"{tpg}/lun/lun_3")
    s.add("scsi_devices")
    s.write(f"{tpg}/nexus", "NULL", "NULL")
    s.read(f"{tpg}/nexus")
    # a LUN linked before the nexus: no disk, and the nexus stays for good
    s.mkdir(f"{tpg}/lun/lun_0")
    s.link(FILEIO, f"{tpg}/lun/lun_0/f1")
    s.write(f"{tpg}/nexus", "naa.5001405000000def")
    s.add("scsi_devices")
    s.unlink(f"{tpg}/lun/lun_0/f1")
    s.rmdir(f"{tpg}/lun/lun_0")
    s.write(f"{tpg}/nexus", "NULL")
    s.rmdir(tpg)
    # a TPG removed with its nexus in place
    s.mkdir(tpg)
    s.write(f"{tpg}/nexus", "naa.5001405000000def")
    s.rmdir(tpg, LOOP)
    fc_tpg = f"{LOOP_FC}/tpgt_1"
    s.mkdir(LOOP_FC, fc_tpg)
    s.write(f"{fc_tpg}/nexus", "naa.5001405000000def", "fc.5001405000000def")
    s.read(f"{fc_tpg}/nexus")
    s.write(f"{fc_tpg}/nexus", "NULL")
    s.rmdir(fc_tpg, LOOP_FC)
    s.snapshot("loopback")
    s.rmdir("loopback")


def fc(script: Script) -> None:
    s = script
    tpg = f"{FC}/tpgt_1"
    s.mkdir("fc")
    s.snapshot("fc")
    s.mkdir("fc/20:00:00:19:99:A8:34:BC", "fc/2000001999a834bc", "fc/naa.2000001999a834bc",
            "fc/20:00:00:19:99:a8:34:b", FC)
    s.snapshot(FC)
    s.mkdir(f"{FC}/tpgt_2", tpg)
    s.snapshot(tpg)
    s.mkdir(f"{tpg}/np/x", f"{tpg}/acls/foo", f"{tpg}/acls/21:00:00:19:99:A8:34:BD",
            f"{tpg}/acls/21:00:00:19:99:a8:34:bd:00", FC_ACL)
    s.snapshot(FC_ACL)
    s.write(f"{FC_ACL}/port_name", "20:00:00:00:00:00:00:01")
    s.write(f"{FC_ACL}/node_name", "20:00:00:00:00:00:00:01")
    s.mkdir(f"{tpg}/lun/lun_0", f"{FC_ACL}/lun_0")
    s.link(FILEIO, f"{tpg}/lun/lun_0/f1")
    s.link(f"{tpg}/lun/lun_0", f"{FC_ACL}/lun_0/m")
    s.write_read(f"{FC_ACL}/tag", "g1\n")
    s.snapshot(tpg)
    s.unlink(f"{FC_ACL}/lun_0/m", f"{tpg}/lun/lun_0/f1")
    s.rmdir(f"{FC_ACL}/lun_0", FC_ACL, f"{tpg}/lun/lun_0", tpg, FC)
    s.snapshot("fc")
    s.rmdir("fc")


def cleanup(script: Script) -> None:
    script.rmdir(SO2, SO, "core/user_1", FILEIO, "core/fileio_2")
    script.add("uio")
    script.snapshot("")


def steps() -> list[Step]:
    """The whole script, in order."""
    script = Script()
    for part in (core, iscsi_objects, iscsi_portals, iscsi_settings, iscsi_auth, iscsi_acls,
                 loopback, fc, cleanup):
        part(script)
    return script.steps
