"""udev rules and the pyudev hotplug watcher, installed as ``tcmu_scst.udev``.

``watcher`` (pyudev's observer thread) → ``events`` (immutable copies of each event) →
``debounce`` (one batch per disk once its burst settles) → ``follower`` (what the tree and
the workers must do: offline, reattach, resize, auto-export per ``policy``), never touching
``ownership``'s own exports.  ``99-tcmu-scst.rules`` is optional (see its header).  The
worker's side of it is ``tcmu_scst.handlers.block_hotplug``.
"""
