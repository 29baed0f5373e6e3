# Shell helpers for system tests of our data plane: serve a device with the standalone
# exporter (TCMU backstore + supervised worker + tcm_loop) and find its /dev/sdX.
# Uses wait_for from lio.sh.

# ours_export NAME IMAGE BYTES [KEY=VALUE...]: prints the disk node once it is served.
ours_export() {
    local name=$1 image=$2 bytes=$3
    shift 3
    truncate -s "$bytes" "$image"
    ours_export_handler "$name" vdisk_fileio "$bytes" "filename=$image" "$@"
}

# ours_export_handler NAME HANDLER BYTES [KEY=VALUE...]: ours_export for any handler and an
# existing backing store (a block device, say): nothing is created, the parameters (filename=
# included) go to the handler as they are; prints the disk node once it is served.
# OURS_OPTIONS adds exporter options (e.g. "--wwn naa.5001405c0ffee002 --hba 101" for a
# second export beside the first).
ours_export_handler() {
    local name=$1 handler=$2 bytes=$3
    shift 3
    local params=()
    for param in "$@"; do params+=(--param "$param"); done
    "$TCMU_VM_PYTHON" -m tcmu_scst.dataplane.standalone --name "$name" --handler "$handler" \
        --size "$bytes" "${params[@]}" ${OURS_OPTIONS:-} --ready-file "/tmp/$name.ready" \
        > "/tmp/$name.log" 2>&1 &
    echo $! > "/tmp/$name.pid"
    if ! wait_for test -s "/tmp/$name.ready"; then
        cat "/tmp/$name.log" >&2
        return 1
    fi
    cut -d' ' -f1 "/tmp/$name.ready"
}

# worker_pids: the data-plane worker processes now running
worker_pids() {
    pgrep -f "tcmu_scst.dataplane.worker" || true
}

# ours_stop NAME: SIGTERM the exporter and wait for its clean teardown
ours_stop() {
    local pid
    pid=$(cat "/tmp/$1.pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
