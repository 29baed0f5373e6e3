"""Commands derived from mgmt usage texts: names, aliases, arguments and what they write."""

from __future__ import annotations

from tcmu_scst.config.sysfs import MgmtHelp
from tcmu_scst.shell.verbs import Kind, derive_verbs, identifier_of

LUNS = ('Usage: echo "add H:C:I:L lun [parameters]" >mgmt\n'
        '       echo "add VNAME lun [parameters]" >mgmt\n'
        '       echo "del lun" >mgmt\n'
        '       echo "replace VNAME lun [parameters]" >mgmt\n'
        '       echo "clear" >mgmt\n\n'
        "The following parameters available: read_only\n")
GROUPS = ('Usage: echo "create GROUP_NAME" >mgmt\n'
          '       echo "del GROUP_NAME" >mgmt\n')
ISCSI = ('Usage: echo "add_target target_name [parameters]" >mgmt\n'
         '       echo "del_target target_name" >mgmt\n'
         '       echo "add_target_attribute target_name <attribute> <value>" >mgmt\n')
ODD = ('Usage: echo "ls path" >mgmt\n'
       '       echo "frob" >mgmt\n')


def by_name(text: str, reserved: frozenset[str] = frozenset()) -> dict:
    return {verb.command: verb for verb in derive_verbs(MgmtHelp.parse(text), reserved)}


def test_create_and_delete_name_the_making_pair() -> None:
    luns = by_name(LUNS)
    assert list(luns) == ["add", "create", "del", "delete", "replace", "clear"]
    assert luns["create"].verb == "add" and luns["delete"].verb == "del"
    # alternatives of one kind merge into one argument named after the kind
    assert [(a.name, a.kind) for a in luns["add"].arguments] == \
        [("device", Kind.DEVICE), ("lun", Kind.LUN)]
    assert not luns["create"].new_name_first  # VNAME names an existing device
    assert luns["create"].render(["disk1", "0"], {"read_only": "1"}) == "add disk1 0 read_only=1"
    groups = by_name(GROUPS)
    assert list(groups) == ["create", "del", "delete"]  # "create" is its own alias
    assert groups["create"].new_name_first
    iscsi = by_name(ISCSI)
    assert iscsi["create"].new_name_first and iscsi["delete"].verb == "del_target"
    assert iscsi["create"].render(["t1"], {"a": "1", "b": "2"}) == "add_target t1 a=1; b=2"


def test_a_trailing_value_takes_the_rest_of_the_line() -> None:
    verb = by_name(ISCSI)["add_target_attribute"]
    assert [a.name for a in verb.arguments] == ["target_name", "attribute", "value"]
    assert verb.arguments[-1].rest_of_line and not verb.takes_parameters
    assert verb.render(["t1", "IncomingUser", "joe", "secret"], {}) == \
        "add_target_attribute t1 IncomingUser joe secret"


def test_a_verb_named_like_a_shell_command_is_renamed_and_no_pair_means_no_alias() -> None:
    odd = by_name(ODD, reserved=frozenset({"ls", "cd"}))
    assert list(odd) == ["mgmt_ls", "frob"]
    assert odd["mgmt_ls"].verb == "ls"


def test_identifiers_from_usage_words() -> None:
    assert identifier_of("H:C:I:L") == "h_c_i_l"
    assert identifier_of("<attribute>") == "attribute"
    assert identifier_of("DEST_GROUP_NAME") == "dest_group_name"
    assert identifier_of("2nd") == "arg_2nd"
