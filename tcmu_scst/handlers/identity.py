"""Device identity as SCST reports it: vendor, product, revision, T10 device id, serial.

SCST derives the default ``t10_dev_id`` and ``usn`` from the device name and the setup id
with CRC-32C, so generating them the same way keeps a device's identity (and with it the
initiators' multipath and by-id names) when it moves from an SCST host to this one.
"""

from __future__ import annotations

from dataclasses import dataclass

CRC32C_POLYNOMIAL = 0x82F63B78  # Castagnoli, reflected
T10_VENDOR_DESIGNATOR, EUI64_DESIGNATOR = 0x1, 0x2  # designator types (SPC)
DEFAULT_REVISION = "3110"  # SCST's product revision level unless prod_rev_lvl is given


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ CRC32C_POLYNOMIAL if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """Plain CRC-32C update: no initial or final inversion (the form SCST's id rule uses)."""
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def scst_device_id(name: str, setup_id: int = 0) -> int:
    """SCST's numeric device id: the setup id above the CRC-32C of the name and its NUL."""
    return (setup_id << 32) | crc32c(name.encode() + b"\0")


def default_t10_dev_id(name: str, setup_id: int = 0) -> str:
    return f"{scst_device_id(name, setup_id):x}-{name}"


def default_usn(name: str, setup_id: int = 0) -> str:
    return f"{scst_device_id(name, setup_id):x}"


@dataclass
class Identity:
    """What INQUIRY reports about a device."""

    name: str
    vendor: str = "SCST_FIO"
    product: str = ""
    revision: str = DEFAULT_REVISION
    t10_dev_id: str = ""
    usn: str = ""
    setup_id: int = 0

    def eui64(self) -> bytes:
        """The EUI-64 designator SCST reports when none is configured: the first eight
        characters of ``t10_dev_id`` (the hex device id for generated ids)."""
        return self.t10_dev_id.encode("ascii", "replace")[:8].ljust(8, b" ")

    def t10_vendor_designator(self) -> bytes:
        """The T10 vendor identification designator: the vendor in 8 characters, then
        ``t10_dev_id``."""
        return self.vendor.encode("ascii", "replace")[:8].ljust(8, b" ") + \
            self.t10_dev_id.encode()

    def designators(self) -> dict[int, bytes]:
        """Designator type -> value, as VPD page 83h lists them (what EXTENDED COPY names
        a device by)."""
        return {T10_VENDOR_DESIGNATOR: self.t10_vendor_designator(),
                EUI64_DESIGNATOR: self.eui64()}

    def __post_init__(self) -> None:
        self.product = self.product or self.name[:16]
        self.t10_dev_id = self.t10_dev_id or default_t10_dev_id(self.name, self.setup_id)
        self.usn = self.usn or default_usn(self.name, self.setup_id)
