"""Validating an rtslib ``saveconfig.json``: typed access that fails with the item's JSON path.

A saveconfig.json comes from anyone's targetcli, or from a hand edit; an import must refuse a
malformed one before anything is written, and say where it is wrong (``$.targets[0].tpgs[0]
.luns[1].storage_object``), not fail somewhere deep in the conversion with a KeyError.  The
conversion itself (:mod:`.importer`) then works on checked values only.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from .facts import CHAP_KEYS, LIO_MAX_LUN
from .results import SaveconfigError


def type_name(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            int: "a number", float: "a number", type(None): "null"}.get(type(value),
                                                                        type(value).__name__)


class Checker:
    """Typed access to a JSON document that fails with the path of the offending item."""

    @staticmethod
    def object(value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SaveconfigError(path, f"expected an object, found {type_name(value)}")
        return value

    @staticmethod
    def array(value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise SaveconfigError(path, f"expected a list, found {type_name(value)}")
        return value

    @staticmethod
    def string(item: Mapping[str, Any], key: str, path: str, required: bool = False,
               default: str | None = None) -> str | None:
        if key not in item or item[key] is None:
            if required:
                raise SaveconfigError(f"{path}.{key}", "missing")
            return default
        value = item[key]
        if not isinstance(value, str):
            raise SaveconfigError(f"{path}.{key}", f"expected a string, found "
                                  f"{type_name(value)}")
        return value

    @staticmethod
    def integer(item: Mapping[str, Any], key: str, path: str, required: bool = False,
                low: int = 0, high: int | None = None,
                default: int | None = None) -> int | None:
        if key not in item or item[key] is None:
            if required:
                raise SaveconfigError(f"{path}.{key}", "missing")
            return default
        value = item[key]
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SaveconfigError(f"{path}.{key}", f"expected a whole number, found "
                                  f"{type_name(value)}")
        if value < low or (high is not None and value > high):
            limit = f"{low}..{high}" if high is not None else f"at least {low}"
            raise SaveconfigError(f"{path}.{key}", f"{value} is out of range ({limit})")
        return value

    @staticmethod
    def boolean(item: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = item.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise SaveconfigError(f"{path}.{key}", f"expected true or false, found {value!r}")


def numeric(value: object) -> int | None:
    """An attribute value as rtslib dumps it (a number, or text where it is not one)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return None
    return None


def checked_tpg(item: object, path: str, storage_objects: Container[str]) -> dict[str, Any]:
    """Validate one TPG; returns it with the LUN, portal and ACL lists checked
    (``storage_objects``: the ``/backstores/<plugin>/<name>`` references a LUN may name)."""
    tpg = Checker.object(item, path)
    tag = Checker.integer(tpg, "tag", path, low=1, high=65535, default=1)
    attributes = Checker.object(tpg.get("attributes", {}), f"{path}.attributes")
    parameters = Checker.object(tpg.get("parameters", {}), f"{path}.parameters")
    for key, value in parameters.items():
        if not isinstance(value, str):
            raise SaveconfigError(f"{path}.parameters.{key}", "expected a string, found "
                                  f"{type_name(value)}")
    for key in CHAP_KEYS:
        Checker.string(tpg, key, path)
    luns = _tpg_luns(tpg, path, storage_objects)
    portals = []
    for index, portal_item in enumerate(Checker.array(tpg.get("portals", []),
                                                      f"{path}.portals")):
        portal_path = f"{path}.portals[{index}]"
        portal = Checker.object(portal_item, portal_path)
        address = Checker.string(portal, "ip_address", portal_path, required=True)
        port = Checker.integer(portal, "port", portal_path, required=True, high=65535)
        iser = Checker.boolean(portal, "iser", portal_path, False)
        offload = Checker.boolean(portal, "offload", portal_path, False)
        portals.append((address, port, iser, offload, portal_path))
    acls = []
    names: set[str] = set()
    for index, acl_item in enumerate(Checker.array(tpg.get("node_acls", []),
                                                   f"{path}.node_acls")):
        acl = _node_acl(acl_item, f"{path}.node_acls[{index}]", luns, path)
        if acl["node_wwn"].lower() in names:
            raise SaveconfigError(f"{acl['path']}.node_wwn",
                                  f"a second ACL for {acl['node_wwn']}")
        names.add(acl["node_wwn"].lower())
        acls.append(acl)
    return {"tag": tag, "enable": Checker.boolean(tpg, "enable", path, True),
            "attributes": attributes, "parameters": parameters, "luns": luns,
            "portals": portals, "acls": acls, "raw": tpg}


def _tpg_luns(tpg: Mapping[str, Any], path: str,
              storage_objects: Container[str]) -> dict[int, str]:
    """TPG LUN number → the storage object reference it exports."""
    luns: dict[int, str] = {}
    for index, lun_item in enumerate(Checker.array(tpg.get("luns", []), f"{path}.luns")):
        lun_path = f"{path}.luns[{index}]"
        lun = Checker.object(lun_item, lun_path)
        number = Checker.integer(lun, "index", lun_path, required=True, high=LIO_MAX_LUN)
        assert number is not None
        reference = Checker.string(lun, "storage_object", lun_path, required=True) or ""
        if reference not in storage_objects:
            raise SaveconfigError(f"{lun_path}.storage_object", f"{reference!r} names no "
                                  "storage object of $.storage_objects "
                                  "(/backstores/<plugin>/<name>)")
        if number in luns:
            raise SaveconfigError(f"{lun_path}.index", f"TPG LUN {number} is listed twice")
        luns[number] = reference
    return luns


def _node_acl(item: object, path: str, luns: Mapping[int, str],
              tpg_path: str) -> dict[str, Any]:
    """One node ACL: its initiator, tag, CHAP account and mapped LUN → (TPG LUN, write
    protect or None when the document leaves it to the TPG)."""
    acl = Checker.object(item, path)
    node = Checker.string(acl, "node_wwn", path, required=True) or ""
    if not node or any(character.isspace() for character in node):
        raise SaveconfigError(f"{path}.node_wwn", f"{node!r} is no initiator name")
    tag = Checker.string(acl, "tag", path)
    chap = {key: Checker.string(acl, key, path) or "" for key in CHAP_KEYS}
    Checker.object(acl.get("attributes", {}), f"{path}.attributes")
    mapped: dict[int, tuple[int, bool | None]] = {}
    for index, mapped_item in enumerate(Checker.array(acl.get("mapped_luns", []),
                                                      f"{path}.mapped_luns")):
        mapped_path = f"{path}.mapped_luns[{index}]"
        mapped_lun = Checker.object(mapped_item, mapped_path)
        number = Checker.integer(mapped_lun, "index", mapped_path, required=True,
                                 high=LIO_MAX_LUN)
        tpg_lun = Checker.integer(mapped_lun, "tpg_lun", mapped_path, required=True,
                                  high=LIO_MAX_LUN)
        assert number is not None and tpg_lun is not None
        if tpg_lun not in luns:
            raise SaveconfigError(f"{mapped_path}.tpg_lun", f"TPG LUN {tpg_lun} is not in "
                                  f"{tpg_path}.luns")
        if number in mapped:
            raise SaveconfigError(f"{mapped_path}.index", f"mapped LUN {number} is listed "
                                  "twice")
        write_protect = None
        if mapped_lun.get("write_protect") is not None:
            write_protect = Checker.boolean(mapped_lun, "write_protect", mapped_path, False)
        mapped[number] = (tpg_lun, write_protect)
    return {"node_wwn": node, "tag": tag, "chap": chap, "mapped": mapped,
            "attributes": acl.get("attributes", {}), "tcq_depth": acl.get("tcq_depth"),
            "path": path}
