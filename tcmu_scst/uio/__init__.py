"""The kernel boundary: UIO devices of TCMU backstores and the shared command ring."""
