"""What the saveconfig conversion cannot carry across, in general, said once for the docs.

Each conversion reports its concrete losses as warnings; this table is the general list an
administrator reads before choosing to convert at all (README, "saveconfig.json (targetcli)
export and import"), kept next to the code so that a new loss is written down where it is
made.
"""

from __future__ import annotations

UNEXPRESSIBLE: dict[str, tuple[str, ...]] = {
    "export": (
        "vcdrom devices: LIO has no CD-ROM backstore; the device and its LUNs are left out.",
        "vdisk_nullio becomes a ramdisk with nullio=true: no memory, writes are discarded "
        "(as SCST), but what a READ returns is whatever LIO leaves in the buffer, not the "
        "zeros SCST's read_zero=1 promises; dummy=1 is dropped.",
        "INQUIRY identity: LIO answers vendor LIO-ORG, product = the backstore name "
        "(emulate_model_alias=1, as SCST's default prod_id), its own revision, and builds "
        "VPD page 0x83 from the unit serial: the serial (usn) is kept as the storage "
        "object's wwn, t10_dev_id, t10_vend_id, prod_id, prod_rev_lvl, eui64_id, naa_id, "
        "vend_specific_id, inq_vend_specific and scsi_device_name are not.",
        "nv_cache, o_direct, removable, tst, lb_per_pb_exp, opt_trans_len and the other "
        "vdisk settings without a fileio/block counterpart; read_only of a fileio or "
        "nullio device becomes write protection of every LUN that maps it.",
        "blocksize other than 512, 1024, 2048 or 4096 (LIO's block_size choices).",
        "A target whose groups export a device that its default LUN set does not is exported "
        "without demo mode (access_mode acl-only, as tcmu-scstd does): initiators in no "
        "group cannot log in at all, since demo mode would show them the group-only LUNs "
        "too (SCST lets them in to the default LUN set).",
        "A mix of read-only and writable LUNs in a target's default set: demo mode has one "
        "write-protect switch, so all of them become read-only.",
        "More than one IncomingUser per target or per driver (LIO keeps one account per TPG "
        "or ACL); the target's account is also given to every ACL, as SCST checks it for "
        "every initiator.",
        "allowed_portal, per_portal_acl, redirect, alias and iscsi-scstd's own keys "
        "(QueuedCommands, RspTimeout, NopInInterval, NopInTimeout, MaxSessions); the "
        "portal is always 0.0.0.0:3260.",
        "rel_tgt_id (LIO assigns its own relative port ids; rtslib does not save them).",
        "Wildcard initiator patterns, initiators in several groups of one target (the first "
        "group keeps it), groups without initiators, names rtslib refuses (an IQN with '_').",
        "scst_local: a target without a session is left out (a loopback target always has a "
        "nexus, i.e. a local disk), only one session, no groups, no read_only LUNs; the "
        "LIO WWN is the target name if it is an naa. name, else one derived from it.",
        "fcst: LUNs of the default set are reachable by no one (tcm_fc has no demo mode); "
        "ports nothing is configured on are left out.",
        "copy_manager: left out, as it has no rtslib object: LIO carries out EXTENDED COPY "
        "itself between the backstores of one kernel (emulate_3pc), with no copy manager "
        "LUNs to give, no allow_not_connected_copy and no way to take a device out of "
        "reach.",
        "Other target drivers (qla2x00t, ib_srpt, ...), device groups (ALUA), "
        "setup_id and the iSCSI driver's iSNS settings.",
    ),
    "import": (
        "Backstores other than fileio, block and ramdisk: user:<handler> (tcmu-runner: qcow, "
        "rbd, glfs, zbc, file ...) and pscsi are left out, with the LUNs that export them.",
        "A ramdisk keeps what is written to it; vdisk_nullio discards it (nullio=true "
        "ramdisks match).",
        "The unit serial (wwn) becomes usn only when it fits SCST's 20 characters; rtslib's "
        "generated serials (UUIDs) do not, so those devices get SCST's generated identity.",
        "fileio size: SCST takes the size of the file, which must exist (LIO creates and "
        "sizes it); block write_back and exclusive (the device decides); attributes "
        "without a vdisk parameter (pi_prot_type, emulate_caw=0, emulate_3pc=0, ...).",
        "Several TPGs per target (only the first is converted), portals (SCST listens on "
        "every address; iSER and offload are not offered), TargetAlias and the other "
        "negotiation keys SCST has no file for, TPG and node-ACL attributes such as "
        "default_cmdsn_depth, nopin_timeout and tcq_depth.",
        "TPG LUNs numbered above 16383 (SCST's LUN range) in demo mode: initiators without an "
        "ACL saw them in LIO; in SCST they are reachable only through the groups that map "
        "them.  Without demo mode an initiator without an ACL cannot log in to LIO; in SCST "
        "it logs in to the target's (then empty) default LUN set.",
        "CHAP: SCST's accounts are per target, not per initiator, so each ACL's account "
        "becomes one more IncomingUser of the target (any of them may log in as any "
        "initiator) and only one OutgoingUser is kept; credentials LIO does not enforce "
        "(authentication=0) are left out, and secrets shorter than 12 characters are "
        "written but refused by iscsi-scstd and tcmu-scstd.",
        "ACLs sharing a tag but not the same mapped LUNs become separate groups.",
        "loopback: the nexus WWN is not saved by rtslib; each loopback target becomes an "
        "scst_local target named by its WWN with one session 'lio_nexus'.",
        "tcm_fc: targets are hardware ports that must exist; TPG LUNs no ACL maps are "
        "dropped (no one could reach them).",
        "Fabrics other than iscsi, loopback and tcm_fc (qla2xxx, srpt, vhost, ...), ALUA "
        "groups, and discovery credentials that are not enforced.",
    ),
}
