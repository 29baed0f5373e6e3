"""Every file of the tree has SCST's mode and ``[key]`` rule (scst_sysfs.md: 2.1 root, 2.3 and
4.3 handlers, 4.4 devices of the four vdisk handlers, 2.4 and 5.6 targets/iscsi, 5.8
scst_local and copy_manager, 2.5 LUNs, 2.6 initiator groups), checked file by file against a
table taken from the reference.

Each directory is looked at in three states: as created (``plain``), with every setting
given or written at its default (``defaults``) and with every setting changed
(``changed``).  A rule then says when ``[key]`` must show: ``always``; ``never``;
``non-default`` (only when changed); ``when set`` (when given or written, even at the
default).  The set of files must be exactly the table's (plus the few that are ours, not
SCST's), so a file that appears, disappears or changes its mode or key rule fails here.

Where this tree cannot do what SCST's file does, the difference is listed in DEVIATIONS
with the reason; the reference column stays as the reference says.  Files that take only
their default because LIO has no counterpart (FIXED) show no ``[key]`` in any state and
refuse other values with EINVAL.
"""

from __future__ import annotations

import errno
import stat
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.nodes import Attribute, Directory
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config.sysfs import AttributeValue
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .test_config_apply import loop_device  # noqa: F401  (vdisk_blockio needs one)

R, RW, WO, SECRET = 0o444, 0o644, 0o200, 0o600
NEVER, ALWAYS, NON_DEFAULT, WHEN_SET = "never", "always", "non-default", "when set"
PLAIN, DEFAULTS, CHANGED = "plain", "defaults", "changed"
Table = dict[str, tuple[int, str]]

# --- the reference ---------------------------------------------------------------------

TRACE: Table = {"trace_level": (RW, NEVER)}  # in tracing builds: root, handlers, drivers
ROOT: Table = {  # 2.1
    "version": (R, NEVER), "last_sysfs_mgmt_res": (R, NEVER), "setup_id": (RW, NON_DEFAULT),
    "threads": (RW, NON_DEFAULT), **TRACE}
HANDLER: Table = {"mgmt": (RW, NEVER), "type": (R, NEVER), **TRACE}  # 2.3, 4.3
IDENTITY: Table = {name: (RW, WHEN_SET) for name in (
    "t10_vend_id", "prod_id", "prod_rev_lvl", "t10_dev_id", "usn")}
DISK: Table = {"type": (R, NEVER), "blocksize": (R, NON_DEFAULT), "read_only": (R, NON_DEFAULT),
               "removable": (R, NON_DEFAULT), "rotational": (R, NON_DEFAULT),
               "tst": (R, NON_DEFAULT), **IDENTITY}
BACKED: Table = {**DISK, "filename": (RW, ALWAYS), "size_mb": (R, NEVER),
                 "write_through": (R, NON_DEFAULT), "nv_cache": (R, NON_DEFAULT),
                 "thin_provisioned": (R, WHEN_SET), "resync_size": (WO, NEVER),
                 "lb_per_pb_exp": (RW, NON_DEFAULT)}
DEVICES: dict[str, Table] = {  # 4.4, plus type from 2.2
    "vdisk_fileio": {**BACKED, "size": (R, ALWAYS), "o_direct": (R, NON_DEFAULT)},
    "vdisk_blockio": {**BACKED, "size": (RW, ALWAYS), "size_mb": (RW, NEVER)},
    "vdisk_nullio": {**DISK, "size": (RW, NON_DEFAULT), "size_mb": (RW, NEVER),
                     "dummy": (R, NON_DEFAULT)},
    "vcdrom": {"type": (R, NEVER), "filename": (RW, WHEN_SET), "size": (R, ALWAYS),
               "size_mb": (R, NEVER), "tst": (R, NON_DEFAULT), **IDENTITY},
}
ISCSI_DRIVER: Table = {  # 5.6 (and 2.4: mgmt)
    "mgmt": (RW, NEVER), "enabled": (RW, NEVER), "iSNSServer": (RW, WHEN_SET),
    "open_state": (R, NEVER), "version": (R, NEVER), **TRACE}
CHAP: Table = {"IncomingUser": (SECRET, ALWAYS), "OutgoingUser": (SECRET, ALWAYS)}
# 5.6 negotiation keys with a value that is not the default
ISCSI_KEYS = {
    "InitialR2T": "Yes", "ImmediateData": "No", "MaxRecvDataSegmentLength": "8192",
    "MaxXmitDataSegmentLength": "8192", "MaxBurstLength": "8192", "FirstBurstLength": "8192",
    "MaxOutstandingR2T": "1", "HeaderDigest": "CRC32C", "DataDigest": "CRC32C",
    "QueuedCommands": "64", "RspTimeout": "30", "NopInInterval": "0", "NopInTimeout": "5",
    "MaxSessions": "1"}
TARGET: Table = {"enabled": (RW, NEVER), "rel_tgt_id": (RW, NON_DEFAULT)}  # 2.4
ISCSI_TARGET: Table = {**TARGET, "tid": (R, NEVER),
                       **{key: (RW, NON_DEFAULT) for key in ISCSI_KEYS}}
LOCAL_DRIVER: Table = {"mgmt": (RW, NEVER)}  # 2.4: mgmt since it adds targets; 5.8
LOCAL_TARGET: Table = {"rel_tgt_id": (RW, NON_DEFAULT)}  # 5.8: no enable, so no enabled
# 5.8; SCST's copy manager also shows dif_capabilities, left out here (no DIF: dif_type 0)
COPY_MANAGER_DRIVER: Table = {"allow_not_connected_copy": (RW, NON_DEFAULT)}
COPY_MANAGER_TARGET: Table = {"rel_tgt_id": (RW, NON_DEFAULT)}  # 2.4: no enable switch
SESSION: Table = {"initiator_name": (R, NEVER)}  # 2.7, the files this tree shows
MGMT: Table = {"mgmt": (RW, NEVER)}  # luns/, ini_groups/, initiators/ (3.2)
LUN: Table = {"read_only": (R, NON_DEFAULT)}  # 2.5
GROUP: Table = {  # 2.6, 5.6
    "addr_method": (RW, NON_DEFAULT), "io_grouping_type": (RW, NON_DEFAULT),
    "black_hole": (RW, NEVER), "cpu_mask": (RW, NON_DEFAULT)}
ISCSI_GROUP: Table = {**GROUP, "per_sess_dedicated_tgt_threads": (RW, NON_DEFAULT)}

# --- this tree -------------------------------------------------------------------------

OURS: Table = {"access_mode": (R, NEVER)}  # targets: demo or acl-only (README, access rule)
BLOCKIO_OURS: Table = {"offline": (R, NEVER)}  # its block device is gone (udev hotplug)
DEVIATIONS: dict[tuple[str, str], tuple[int, str]] = {
    ("", "trace_level"): (R, "shows SCST's default flags; the daemon's verbosity is its "
                             "--log-level, not set through the tree"),
    ("vdisk_fileio", "filename"): (R, "SCST writes it only while active=0; our devices "
                                      "have no active switch, so it is never writable"),
    ("vdisk_blockio", "filename"): (R, "the same"),
    ("vdisk_blockio", "size"): (R, "no resizing of a live device (resync_size follows the "
                                   "backing store)"),
    ("vdisk_blockio", "size_mb"): (R, "the same"),
    ("vdisk_nullio", "size"): (R, "no resizing of a live device; set at creation"),
    ("vdisk_nullio", "size_mb"): (R, "the same"),
}
FIXED = {"threads", "iSNSServer", *GROUP, "per_sess_dedicated_tgt_threads"}


def wants_key(rule: str, state: str, changed: bool) -> bool | None:
    """Whether ``[key]`` shows; None where this state says nothing (a setting this device of
    the ``changed`` state leaves at its default)."""
    if rule in (ALWAYS, NEVER):
        return rule == ALWAYS
    if state == PLAIN:
        return False
    if state == DEFAULTS:
        return rule == WHEN_SET
    return True if changed else None


def check(system: ScstSystem, directory: str, table: Table, state: str, kind: str = "",
          changed: set[str] | None = None) -> None:
    node = system.tree.lookup(directory)
    assert isinstance(node, Directory), directory
    files = {name: child for name, child in node.entries().items()
             if isinstance(child, Attribute)}
    assert sorted(files) == sorted(table), directory
    for name, (reference_mode, rule) in table.items():
        mode = DEVIATIONS.get((kind, name), DEVIATIONS.get(("", name), (reference_mode,)))[0]
        path = f"{directory}/{name}"
        assert stat.S_IMODE(files[name].mode) == mode, (path, oct(files[name].mode))
        if files[name].read is None:
            continue
        key = AttributeValue.parse(system.tree.read(path)).key
        wanted = False if name in FIXED else wants_key(
            rule, state, changed is None or name in changed)
        if wanted is not None:
            assert key == wanted, (path, state, rule)


# --- devices ---------------------------------------------------------------------------

# per handler and state: (creation parameters, the settings that are not at their default)
SPECS: dict[str, dict[str, list[tuple[str, set[str]]]]] = {
    "vdisk_fileio": {
        PLAIN: [("", set())],
        DEFAULTS: [("blocksize=512;read_only=0;write_through=0;nv_cache=0;o_direct=0;"
                    "thin_provisioned=0;tst=1;rotational=1;removable=0", set())],
        CHANGED: [("read_only=1;o_direct=1;thin_provisioned=1;blocksize=4096;tst=0;"
                   "rotational=0;removable=1", {"read_only", "o_direct", "thin_provisioned",
                                                "blocksize", "tst", "rotational",
                                                "removable", *IDENTITY}),
                  ("write_through=1;nv_cache=1", {"write_through", "nv_cache"})],
    },
    "vdisk_blockio": {
        PLAIN: [("", set())],
        DEFAULTS: [("blocksize=512;read_only=0;write_through=0;nv_cache=0;"
                    "thin_provisioned=0;tst=1;rotational=1;removable=0", set())],
        CHANGED: [("write_through=1;nv_cache=1;thin_provisioned=1;blocksize=4096;tst=0;"
                   "rotational=0;removable=1", {"write_through", "nv_cache",
                                                "thin_provisioned", "blocksize", "tst",
                                                "rotational", "removable", *IDENTITY}),
                  ("read_only=1", {"read_only"})],
    },
    "vdisk_nullio": {
        PLAIN: [("", set())],
        DEFAULTS: [("size=2748779069440;blocksize=512;read_only=0;removable=0;rotational=1;"
                    "tst=1;dummy=0", set())],
        CHANGED: [("size_mb=16;blocksize=4096;read_only=1;removable=1;rotational=0;tst=0;"
                   "dummy=1", {"size", "blocksize", "read_only", "removable", "rotational",
                               "tst", "dummy", *IDENTITY})],
    },
    "vcdrom": {
        PLAIN: [("", set())],
        DEFAULTS: [("tst=1", {"filename"})],  # media inserted: "a filename is set"
        CHANGED: [("tst=0", {"filename", "tst", *IDENTITY})],
    },
}
NEW_IDENTITY = {"t10_vend_id": "ACME", "prod_id": "Product", "prod_rev_lvl": "0001",
                "t10_dev_id": "dev-0001", "usn": "usn0001"}


@pytest.mark.parametrize("state", [PLAIN, DEFAULTS, CHANGED])
@pytest.mark.parametrize("handler", sorted(DEVICES))
def test_device_files(handler: str, state: str, tmp_path: Path,
                      request: pytest.FixtureRequest) -> None:
    system = ScstSystem(RecordingRealizer())
    table = {**DEVICES[handler], **(BLOCKIO_OURS if handler == "vdisk_blockio" else {})}
    if handler == "vdisk_blockio":
        backing = request.getfixturevalue("loop_device")
    media = tmp_path / "media.iso"
    media.write_bytes(bytes(1 << 20))
    for index, (parameters, changed) in enumerate(SPECS[handler][state]):
        name = f"d{index}"
        given = parameters
        if handler == "vdisk_fileio":
            backing = tmp_path / f"{name}.img"
            backing.write_bytes(b"")
            backing.write_bytes(bytes(16 << 20))
        if handler in ("vdisk_fileio", "vdisk_blockio"):
            given = f"filename={backing};{parameters}"
        system.tree.write(f"/handlers/{handler}/mgmt", f"add_device {name} {given}")
        if "filename" in changed:
            system.tree.write(f"/devices/{name}/filename", str(media))
        for attribute in IDENTITY:
            path = f"/devices/{name}/{attribute}"
            if state == DEFAULTS:  # written back as it is: "when set" makes it a key
                system.tree.write(path, AttributeValue.parse(system.tree.read(path)).value)
            elif attribute in changed:
                system.tree.write(path, NEW_IDENTITY[attribute])
        check(system, f"/devices/{name}", table, state, handler,
              changed if state == CHANGED else None)


def test_handler_directories() -> None:
    system = ScstSystem(RecordingRealizer())
    for handler in DEVICES:
        check(system, f"/handlers/{handler}", HANDLER, PLAIN)


# --- root, targets, LUNs, groups -------------------------------------------------------

IQN = "iqn.2024-07.org.example:modes"
FC = "20:00:00:1b:21:06:58:21"
CM = "/targets/copy_manager"


def configured(state: str) -> ScstSystem:
    realizer = RecordingRealizer(ports=[FC])
    system = ScstSystem(realizer)
    write = system.tree.write
    write("/handlers/vdisk_nullio/mgmt", "add_device n0")
    write("/targets/iscsi/mgmt", f"add_target {IQN}")
    write("/targets/scst_local/mgmt", "add_target local1 session_name=s1")
    target = f"/targets/iscsi/{IQN}"
    for base in (target, "/targets/scst_local/local1", f"/targets/fcst/{FC}"):
        read_only = " read_only=1" if state == CHANGED else (
            " read_only=0" if state == DEFAULTS else "")
        write(f"{base}/luns/mgmt", f"add n0 0{read_only}")
        write(f"{base}/ini_groups/mgmt", "create g")
        write(f"{base}/ini_groups/g/initiators/mgmt", "add iqn.i:host")
    if state == PLAIN:
        return system
    write("/targets/iscsi/mgmt", "add_attribute IncomingUser joe 12charsecret")
    write("/targets/iscsi/mgmt", "add_attribute OutgoingUser jim 12charsecret")
    write("/targets/iscsi/mgmt", f"add_target_attribute {IQN} IncomingUser joe 12charsecret")
    write("/targets/iscsi/mgmt", f"add_target_attribute {IQN} OutgoingUser jim 12charsecret")
    if state == DEFAULTS:
        defaults = {path: AttributeValue.parse(system.tree.read(path)).value for path in [
            "/setup_id", "/threads", "/targets/iscsi/iSNSServer", f"{target}/rel_tgt_id",
            "/targets/scst_local/local1/rel_tgt_id", f"/targets/fcst/{FC}/rel_tgt_id",
            *(f"{target}/{key}" for key in ISCSI_KEYS), f"{CM}/allow_not_connected_copy",
            *(f"{base}/ini_groups/g/{knob}" for base in (
                target, "/targets/scst_local/local1", f"/targets/fcst/{FC}")
              for knob in GROUP), f"{target}/ini_groups/g/per_sess_dedicated_tgt_threads"]}
        for path, value in defaults.items():
            write(path, value)
        return system
    write("/setup_id", "0x10")
    write(f"{CM}/allow_not_connected_copy", "1")
    write(f"{CM}/copy_manager_tgt/rel_tgt_id", "8")
    for key, value in ISCSI_KEYS.items():
        write(f"{target}/{key}", value)
    for number, base in enumerate((target, "/targets/scst_local/local1",
                                   f"/targets/fcst/{FC}"), start=5):
        write(f"{base}/rel_tgt_id", str(number))
    for path, value in [("/threads", "1000"), ("/targets/iscsi/iSNSServer", "isns.example"),
                        (f"{target}/ini_groups/g/addr_method", "FLAT"),
                        (f"{target}/ini_groups/g/per_sess_dedicated_tgt_threads", "1")]:
        with pytest.raises(OSError) as caught:  # LIO has no counterpart: only the default
            write(path, value)
        assert caught.value.errno == errno.EINVAL, path
    return system


@pytest.mark.parametrize("state", [PLAIN, DEFAULTS, CHANGED])
def test_root_targets_luns_and_groups(state: str) -> None:
    system = configured(state)
    chap = CHAP if state != PLAIN else {}
    check(system, "/", ROOT, state)
    check(system, "/targets/iscsi", {**ISCSI_DRIVER, **chap}, state)
    iscsi = f"/targets/iscsi/{IQN}"
    check(system, iscsi, {**ISCSI_TARGET, **chap, **OURS}, state)
    check(system, "/targets/scst_local", LOCAL_DRIVER, state)
    check(system, "/targets/scst_local/local1", {**LOCAL_TARGET, **OURS}, state)
    check(system, "/targets/fcst", {}, state)  # 5.7: no mgmt, no enabled, no trace_level
    fcst = f"/targets/fcst/{FC}"
    check(system, fcst, {**TARGET, **OURS}, state)
    check(system, CM, COPY_MANAGER_DRIVER, state)
    cm_target = f"{CM}/copy_manager_tgt"
    check(system, cm_target, COPY_MANAGER_TARGET, state)
    check(system, f"{cm_target}/luns", MGMT, state)
    check(system, f"{cm_target}/luns/0", LUN, state, changed=set())  # n0: never read-only
    check(system, f"{cm_target}/ini_groups", MGMT, state)
    check(system, f"{cm_target}/sessions/copy_manager_sess", SESSION, state)
    for base, group in [(iscsi, ISCSI_GROUP), ("/targets/scst_local/local1", GROUP),
                        (fcst, GROUP)]:
        check(system, f"{base}/luns", MGMT, state)
        check(system, f"{base}/luns/0", LUN, state)
        check(system, f"{base}/ini_groups", MGMT, state)
        check(system, f"{base}/ini_groups/g", group, state)
        check(system, f"{base}/ini_groups/g/initiators",
              {**MGMT, "iqn.i:host": (R, NEVER)}, state)
