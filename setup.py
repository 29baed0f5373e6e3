"""Only here for cffi: setuptools' pyproject support has no key for cffi_modules yet."""

from setuptools import setup

setup(cffi_modules=["tcmu_scst/uio/abi_build.py:ffibuilder"])
