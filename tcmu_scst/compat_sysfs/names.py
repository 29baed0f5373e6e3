"""Words of the tree that its clients read and write too, stated here once.

Kept free of imports so that the config tool, the shell and the saveconfig export can use
them without loading the tree itself (every ``tcmu-scst-admin`` run is a new process, and
loading the handlers and the tree cost it a fifth of a second).
"""

VERSION = "3.11.0-tcmu-scst"  # what the root's and the iSCSI driver's version files show
TRACE_LEVEL = "out_of_mem | minor | pid | line | function | special | mgmt | mgmt_dbg"

WILDCARDS = "*?!"  # SCST's initiator pattern characters; LIO matches names exactly
ACCESS_LIMITS_LABEL = "access limits"  # read by tcmu_scst.config.apply before any write
EXACT_NAMES = "exact_initiator_names"
ACCESS_MODE = "access_mode"

COPY_MANAGER = "copy_manager"
COPY_MANAGER_TARGET = "copy_manager_tgt"
COPY_MANAGER_SESSION = "copy_manager_sess"
ALLOW_NOT_CONNECTED_COPY = "allow_not_connected_copy"

# Not SCST: our FUSE tree answers this extended attribute of a directory with all its entries
# at once, as JSON: {name: [st_mode, a file's text (or the errno its read gives), a link's
# target, or null for a directory]}.  The config tool asks for it where it would list a
# directory and read its files and links one by one (four requests to the daemon per file);
# a tree without it (SCST's sysfs) refuses the name, and the tool reads entry by entry.
DIRECTORY_XATTR = "user.scst_tgt.entries"
XATTR_SIZE_MAX = 65536  # the kernel's limit on one extended attribute's value
