"""iSCSI target attributes as SCST's iscsi-scstd shows them: negotiation keys and their rules.

Each key has SCST's local default, its accepted values and whether it is a number in a range;
``:default:`` restores the default, numbers may use any C base, and the file shows ``[key]``
whenever the value differs from the default (scst_sysfs.md section 5.6).  This table is the
one place the keys' defaults are stated: the tree shows them, the realizer writes the ones LIO
keeps into a new TPG's ``param/`` (:mod:`tcmu_scst.drivers.iscsi`), and the saveconfig
export and import compare against them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .grammar import c_integer, invalid

MAX_SEGMENT = 1048576


@dataclass(frozen=True)
class IscsiKey:
    name: str
    default: str
    low: int | None = None  # numeric keys: inclusive range
    high: int | None = None
    choices: tuple[str, ...] = ()
    # LIO keeps the key as a TPG parameter of the same name; the others are iscsi-scstd's
    # own settings, kept in the tree only
    in_lio: bool = True

    def normalise(self, text: str) -> str:
        value = text.strip()
        if value == ":default:":
            return self.default
        if self.low is not None and self.high is not None:
            number = c_integer(value, self.name)
            if not self.low <= number <= self.high:
                raise invalid(f"{self.name}={number} is out of range {self.low}..{self.high}")
            return str(number)
        if self.name in ("HeaderDigest", "DataDigest"):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            canonical = []
            for part in parts:
                match = {"none": "None", "crc32c": "CRC32C"}.get(part.lower())
                if match is None:
                    raise invalid(f"{self.name}: {part!r} is not None or CRC32C")
                if match not in canonical:
                    canonical.append(match)
            if not canonical:
                raise invalid(f"{self.name}: give None, CRC32C or a comma list of them")
            return ",".join(sorted(canonical, key=lambda item: item != "None"))
        if self.choices and value not in self.choices:
            raise invalid(f"{self.name}={value!r}: use {' or '.join(self.choices)}")
        return value


YES_NO = ("Yes", "No")
ISCSI_KEYS = {key.name: key for key in (
    IscsiKey("InitialR2T", "No", choices=YES_NO),
    IscsiKey("ImmediateData", "Yes", choices=YES_NO),
    IscsiKey("MaxRecvDataSegmentLength", str(MAX_SEGMENT), 512, MAX_SEGMENT),
    IscsiKey("MaxXmitDataSegmentLength", str(MAX_SEGMENT), 512, MAX_SEGMENT),
    IscsiKey("MaxBurstLength", str(MAX_SEGMENT), 512, MAX_SEGMENT),
    IscsiKey("FirstBurstLength", "65536", 512, MAX_SEGMENT),
    IscsiKey("MaxOutstandingR2T", "32", 1, 65535),
    IscsiKey("HeaderDigest", "None"),
    IscsiKey("DataDigest", "None"),
    IscsiKey("QueuedCommands", "32", 1, 2048, in_lio=False),
    IscsiKey("RspTimeout", "90", 2, 65535, in_lio=False),
    IscsiKey("NopInInterval", "30", 0, 65535, in_lio=False),
    IscsiKey("NopInTimeout", "30", 2, 65535, in_lio=False),
    IscsiKey("MaxSessions", "0", 0, 65535, in_lio=False),
)}
CHAP_ATTRIBUTES = ("IncomingUser", "OutgoingUser")
MIN_SECRET = 12
