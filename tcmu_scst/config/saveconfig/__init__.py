"""Moving a configuration between an SCST tree and rtslib's ``saveconfig.json``.

targetcli users keep their LIO configuration in ``/etc/target/saveconfig.json`` and restore
it with ``targetcli restoreconfig`` (or ``targetctl restore``); SCST users keep an scst.conf.
This package converts in both directions:

* :func:`export_saveconfig` (:mod:`.exporter`) reads an SCST tree (ours or a real SCST
  kernel's) through the file system and makes a document that rtslib restores on a machine
  *without* tcmu-scstd, laid out as tcmu-scstd lays targets out in LIO (a device the default
  set already exports is shared, any other one gets a TPG LUN from ``GROUP_LUN_BASE`` up,
  beyond SCST's LUN range so it cannot be mistaken for a default-set LUN when the document
  comes back).
* :func:`import_saveconfig` (:mod:`.importer`) turns such a document (anyone's, validated
  first by :mod:`.validate`) into scst.conf text for the config tool, written by the one
  scst.conf writer (:mod:`tcmu_scst.config.scst_conf`).

Neither direction is lossless; :data:`UNEXPRESSIBLE` lists what is lost in general and each
conversion returns the concrete losses as ``warnings`` (:mod:`.results`).  The facts of
rtslib, LIO and SCST both directions rely on are in :mod:`.facts` and :mod:`.wwn`, those of
each target driver (its fabric, the iSCSI portal and keys) on the driver objects of
:mod:`tcmu_scst.drivers`; the command line is :mod:`.cli`
(``python -m tcmu_scst.config.saveconfig``).

This module only gathers the public names, so that callers import them from one place.
"""

from .cli import main
from .exporter import export_saveconfig
from .importer import import_saveconfig
from .results import SaveconfigDocument, SaveconfigError, ScstConfText
from .unexpressible import UNEXPRESSIBLE
from .wwn import fc_wwn, iscsi_wwn, loopback_wwn

__all__ = [
    "UNEXPRESSIBLE",
    "SaveconfigDocument",
    "SaveconfigError",
    "ScstConfText",
    "export_saveconfig",
    "fc_wwn",
    "import_saveconfig",
    "iscsi_wwn",
    "loopback_wwn",
    "main",
]
