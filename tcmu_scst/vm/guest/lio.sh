# Shell helpers for system tests: build LIO objects through configfs by hand, the way an
# administrator (or rtslib) would, so the tests prove the kernel stack independently of the
# project's own configfs layer.  Sourced at the top of guest job scripts.
set -euo pipefail
CFG=/sys/kernel/config/target

# runner_qcow NAME IMAGE BYTES: tcmu-runner (started if needed) serving a preallocated qcow2
# image through its qcow handler; prints the backstore's configfs path.
runner_qcow() {
    local so=$CFG/core/user_1/$1
    qemu-img create -q -f qcow2 -o preallocation=full "$2" "$3"
    if ! pgrep -x tcmu-runner > /dev/null; then
        mkdir -p /etc/tcmu /var/log
        tcmu-runner > /tmp/tcmu-runner.out 2>&1 &
        wait_for test -e /var/log/tcmu-runner.log
        sleep 1
    fi
    mkdir -p "$so"
    echo "dev_config=qcow/$2,dev_size=$3,hw_max_sectors=1024" > "$so/control"
    echo 1 > "$so/enable"
    echo "$so"
}

# lio_fileio NAME FILE BYTES: an in-kernel fileio backstore; prints its configfs path.
lio_fileio() {
    local so=$CFG/core/fileio_0/$1
    truncate -s "$3" "$2"
    mkdir -p "$so"
    echo "fd_dev_name=$2,fd_dev_size=$3" > "$so/control"
    echo 1 > "$so/enable"
    echo "$so"
}

# wait_for TEST... : retry a test command for up to 30 s.
wait_for() {
    local i
    for i in $(seq 300); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for: $*" >&2
    return 1
}

# loop_export WWN BACKSTORE: tcm_loop target with LUN 0; prints the /dev/sdX that appears.
loop_export() {
    local tpg=$CFG/loopback/$1/tpgt_1
    mkdir -p "$tpg"
    echo "naa.6001405aaaaaaaaa" > "$tpg/nexus"   # the nexus must exist before LUNs link
    mkdir "$tpg/lun/lun_0"
    ln -s "$2" "$tpg/lun/lun_0/$(basename "$2")"
    # address reads <scsi host>:<channel>:<target>; LUN 0 completes the SCSI address
    local blockdir
    blockdir=/sys/bus/scsi/devices/$(cat "$tpg/address"):0/block
    wait_for test -d "$blockdir"
    local disk
    disk=/dev/$(ls "$blockdir")
    wait_for test -b "$disk"
    echo "$disk"
}

# iscsi_export IQN BACKSTORE [PORT]: open (demo-mode) iSCSI target on 127.0.0.1 with LUN 0.
iscsi_export() {
    local tpg=$CFG/iscsi/$1/tpgt_1
    mkdir -p "$tpg/lun/lun_0"
    ln -s "$2" "$tpg/lun/lun_0/$(basename "$2")"
    mkdir "$tpg/np/127.0.0.1:${3:-3260}"
    echo 1 > "$tpg/attrib/generate_node_acls"
    echo 1 > "$tpg/attrib/cache_dynamic_acls"
    echo 0 > "$tpg/attrib/authentication"
    echo 0 > "$tpg/attrib/demo_mode_write_protect"
    echo 1 > "$tpg/enable"
}
