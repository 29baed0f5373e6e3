"""The saveconfig import writes scst.conf through the one scst.conf writer, -write_config's:
names and values come back as they went in, read by our parser and by SCST's Perl scstadmin.

(The import once had a writer of its own that left names unescaped and ``;`` unquoted:
``DEVICE web#2`` is device ``we`` to scstadmin, and our parser refuses an unquoted ``;``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tcmu_scst.config.saveconfig import import_saveconfig
from tcmu_scst.config.scst_conf import format_config, parse

from .perl_scstadmin import perl_unavailable, scstadmin
from .scst_mount import MountedScst

IQN = "iqn.2006-10.net.vlnb:tgt"
HOST = "iqn.1994-05.com.example:host1"


def document(device: str, backing_file: str, tag: str) -> dict[str, Any]:
    """One fileio backstore in demo mode at LUN 0, and an ACL (tagged) that maps it at 3."""
    return {
        "storage_objects": [{"plugin": "fileio", "name": device, "dev": backing_file}],
        "targets": [{"fabric": "iscsi", "wwn": IQN, "tpgs": [{
            "attributes": {"generate_node_acls": 1, "authentication": 0,
                           "demo_mode_write_protect": 0},
            "luns": [{"index": 0, "storage_object": f"/backstores/fileio/{device}"}],
            "node_acls": [{"node_wwn": HOST, "tag": tag,
                           "mapped_luns": [{"index": 3, "tpg_lun": 0}]}]}]}],
    }


def test_names_and_values_are_escaped_and_quoted_as_the_parser_reads_them() -> None:
    text = str(import_saveconfig(document("web#2", "/srv/a;b #1.img", "rack 2; row 5")))
    config = parse(text)
    device = config.handlers["vdisk_fileio"].devices["web#2"]
    assert device.attributes.get("filename") == "/srv/a;b #1.img"
    target = config.drivers["iscsi"].targets[IQN]
    assert target.luns[0].device == "web#2"
    assert list(target.groups) == ["rack 2; row 5"]
    assert target.groups["rack 2; row 5"].luns[3].device == "web#2"
    assert target.groups["rack 2; row 5"].initiators == [HOST]
    # and it is -write_config's text for that configuration, byte for byte
    header = text.partition("\n\n")[0]
    assert text == format_config(config, header=header)


@pytest.mark.skipif(perl_unavailable() is not None, reason=str(perl_unavailable()))
def test_the_perl_scstadmin_applies_the_imported_file(tree: MountedScst,
                                                      tmp_path: Path) -> None:
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(1 << 20))
    conf = tmp_path / "imported.conf"
    conf.write_text(import_saveconfig(document("web#2", str(disk), "hosts")))
    result = scstadmin(tree.root, "-config", str(conf))
    assert result.status == 0 and "FATAL" not in result.output, result.output
    assert (tree.root / "devices" / "web#2" / "filename").read_text().startswith(f"{disk}\n")
    target = tree.root / "targets" / "iscsi" / IQN
    assert (target / "luns/0/device").readlink().name == "web#2"
    assert (target / "ini_groups/hosts/luns/3/device").readlink().name == "web#2"
    assert (target / "ini_groups/hosts/initiators" / HOST).exists()
