"""Configuration of an SCST tree from files: scst.conf (scstadmin's format) and its tools."""
