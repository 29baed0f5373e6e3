"""scst.conf parsing and formatting, without a tree: the five kinds of files SCST users
keep, malformed files refused with their line, and format -> parse giving the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcmu_scst.config.model import Attributes, ScstConfig
from tcmu_scst.config.scst_conf import ConfigError, format_config, parse, parse_file, quote

DATA = Path(__file__).parent / "data"
CONFIGS = sorted((DATA / "scst_conf").glob("*.conf"))
MALFORMED = {
    "unclosed_block.conf": (1, "'HANDLER vdisk_fileio' opened here has no closing"),
    "lun_not_a_number.conf": (3, "LUN number 'zero'"),
    "unclosed_quote.conf": (3, "unclosed double quote"),
    "stray_brace.conf": (2, "'}' without a matching '{'"),
    "unknown_section.conf": (1, "unknown section 'FROBNICATE'"),
    "procfs_era.conf": (1, "SCST 1.x"),
    "initiator_in_two_groups.conf": (7, "INITIATOR a is in two groups"),
    "device_twice.conf": (5, "DEVICE n1 is defined twice"),
    # scst.conf(5) and scstadmin's parser have no statement separator but the line end
    "semicolon_statements.conf": (5, "';' does not separate statements"),
    # values with blanks must be quoted (scst.conf(5)); unquoted, it is a second statement
    "unquoted_blanks.conf": (6, "attribute 'enabled' has more than one value"),
}


def test_there_are_at_least_five_real_world_configs() -> None:
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_real_world_configs_parse_and_format_back(path: Path) -> None:
    config = parse_file(str(path))
    assert config.handlers and config.drivers
    text = format_config(config)
    assert parse(text) == config
    assert format_config(parse(text)) == text


def test_what_the_files_say() -> None:
    config = parse_file(str(DATA / "scst_conf" / "02_handlers_groups_chap.conf"))
    assert config.attributes.get("setup_id") == "0x2a"
    assert set(config.handlers) == {"vdisk_fileio", "vdisk_blockio", "vdisk_nullio"}
    store = config.handlers["vdisk_fileio"].devices["vm_store"]
    assert store.attributes.get("prod_id") == "VM Store"  # quoted, trailing comment dropped
    backup = config.handlers["vdisk_fileio"].devices["backup"]
    assert backup.attributes.get("filename") == "/srv/scst/backup.img"
    iscsi = config.drivers["iscsi"]
    assert iscsi.attributes.values("IncomingUser") == ["discover 12charsecret"]
    vm = iscsi.targets["iqn.2024-01.com.example:storage.vm"]
    assert vm.attributes.get("HeaderDigest") == "CRC32C,None"
    assert vm.luns[0].device == "vm_store"
    esxi = vm.groups["esxi"]
    assert esxi.luns[1].attributes.get("read_only") == "1"
    assert esxi.initiators == ["iqn.1998-01.com.vmware:esxi01-4a5b6c7d",
                               "iqn.1998-01.com.vmware:esxi02-8e9f0a1b"]
    cdrom = parse_file(str(DATA / "scst_conf" / "03_cdrom_nullio.conf"))
    assert cdrom.handlers["vdisk_nullio"].devices["null_4k"].attributes.get("blocksize") == "4096"
    assert not cdrom.handlers["vcdrom"].devices["empty_drive"].attributes
    generated = parse_file(str(DATA / "scst_conf" / "05_write_config_output.conf"))
    group = generated.drivers["iscsi"].targets["iqn.2018-02.com.example:lab"].groups["lab_hosts"]
    assert group.initiators == ["iqn.2005-03.org.open-iscsi:lab#1"]  # \# is a literal #


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_name_the_line(name: str) -> None:
    line, message = MALFORMED[name]
    path = DATA / "scst_conf_malformed" / name
    with pytest.raises(ConfigError) as caught:
        parse_file(str(path))
    assert caught.value.line == line
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_a_block_opened_on_its_line_and_empty_blocks_on_one_line() -> None:
    config = parse("TARGET_DRIVER iscsi { enabled 1\n TARGET t {\n  LUN 0 d1 { read_only 1\n"
                   "  }\n  LUN 1 d2 { }\n  LUN 2 d3 {}\n  GROUP g {}\n }\n}\n")
    target = config.drivers["iscsi"].targets["t"]
    assert config.drivers["iscsi"].attributes.get("enabled") == "1"
    assert target.luns[0].attributes.get("read_only") == "1"
    assert not target.luns[1].attributes and not target.luns[2].attributes
    assert target.luns[2].device == "d3" and "g" in target.groups


@pytest.mark.parametrize(("text", "line", "message"), [
    # SCST's scstadmin drops the statement before the '}' (the LUN would be writable)
    ("TARGET_DRIVER iscsi {\n TARGET t {\n  LUN 0 d1 { read_only 1 }\n }\n}\n", 3,
     "'read_only 1' stands before '}' on its line"),
    ("HANDLER vdisk_nullio {\n DEVICE n1 {\n  blocksize 4096 }\n}\n", 3,
     "'blocksize 4096' stands before '}'"),
    # ... and ignores a block whose brace stands on the next line
    ("TARGET_DRIVER iscsi {\n TARGET t\n {\n  enabled 1\n }\n}\n", 3,
     "'{' on a line of its own: put it at the end of the line 'TARGET t'"),
    # scst.conf(5): the character before a comment's '#' goes with the comment
    ("setup_id 0x2a#the lab\n", 1, "'#' right after a value"),
])
def test_what_scstadmin_reads_otherwise_is_refused_with_its_line(text: str, line: int,
                                                                  message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text, "f.conf")
    assert caught.value.line == line and message in str(caught.value), str(caught.value)
    assert str(caught.value).startswith(f"f.conf:{line}: ")


def test_quoting_survives_every_special_character() -> None:
    for word in ["plain", "with blank", 'a"quote', "hash#mark", "back\\slash", "", "{", "}",
                 "semi;colon", ";"]:
        config = parse(f"setup_id {quote(word)}\n") if word else parse('setup_id ""\n')
        assert config.attributes.get("setup_id") == word, word
    values = Attributes()
    values.add("IncomingUser", 'joe se"c#re\\t x')
    text = format_config(ScstConfig(attributes=values))
    assert parse(text).attributes.values("IncomingUser") == ['joe se"c#re\\t x']


def test_multi_instance_attributes_keep_every_value_in_order() -> None:
    config = parse('TARGET_DRIVER iscsi {\n TARGET t {\n  IncomingUser "a 123456789012"\n'
                   '  IncomingUser "b 123456789012"\n }\n}\n')
    assert config.drivers["iscsi"].targets["t"].attributes.values("IncomingUser") == [
        "a 123456789012", "b 123456789012"]


def test_a_semicolon_is_part_of_a_value_only_quoted_or_escaped() -> None:
    """No ';' separates statements (scst.conf(5), scstadmin's parseStanza); refused wherever
    it stands unquoted, so ``enabled 1;`` never becomes the value ``1;``."""
    for text in ("setup_id 1;\n", "setup_id 1 ;\n", "setup_id ;1\n",
                 "HANDLER vdisk_nullio {\n DEVICE n1 { blocksize 4096; }\n}\n"):
        with pytest.raises(ConfigError, match="';' does not separate statements"):
            parse(text, "f.conf")
    assert parse('setup_id "1;2"\n').attributes.get("setup_id") == "1;2"
    assert parse("setup_id 1\\;2\n").attributes.get("setup_id") == "1;2"
    assert parse("setup_id 1 # comment; with a semicolon\n").attributes.get("setup_id") == "1"
