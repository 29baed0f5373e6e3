"""SCSI emulation (SPC, SBC, MMC command sets) and one module per SCST vdisk handler."""
