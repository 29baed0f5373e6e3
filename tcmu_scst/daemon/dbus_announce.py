"""Announce our handlers on D-Bus where targetcli looks for user-backed backstores.

targetcli lists ``backstores/user:<handler>`` only for handlers that a service owning
``org.kernel.TCMUService1`` on the system bus reports through the ObjectManager interface
(tcmu-runner does that for its own handlers).  Without it, our TCMU storage objects appear
in targetcli only where LUNs use them.  So the daemon answers the same questions for
every handler it serves (the built-in ones and any installed as plugins): targetcli then
shows each device under its handler.

Creating a device from targetcli would make a TCMU object that no worker of ours serves, so
``CheckConfig`` refuses and says where devices are made instead (the SCST tree).

The service is optional: without a system bus, or when the name is taken (tcmu-runner is
running), the daemon logs why and goes on.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

SERVICE = "org.kernel.TCMUService1"
ROOT_PATH = "/org/kernel/TCMUService1"
HANDLER_INTERFACE = "org.kernel.TCMUService1"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PEER = "org.freedesktop.DBus.Peer"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
NAME_FLAG_DO_NOT_QUEUE = 4
NAME_PRIMARY_OWNER = 1
RETRY_SECONDS = 10.0

HANDLER_XML = f"""<node>
  <interface name="{HANDLER_INTERFACE}">
    <property name="ConfigDesc" type="s" access="read"/>
    <method name="CheckConfig">
      <arg type="s" name="configstr" direction="in"/>
      <arg type="b" name="is_valid" direction="out"/>
      <arg type="s" name="message" direction="out"/>
    </method>
    <method name="ChangeMedium">
      <arg type="s" name="name" direction="in"/>
      <arg type="t" name="size" direction="in"/>
      <arg type="s" name="configstr" direction="in"/>
      <arg type="i" name="ret" direction="out"/>
      <arg type="s" name="message" direction="out"/>
    </method>
  </interface>
</node>
"""


def config_description(handler: str, mountpoint: str) -> str:
    """What ``help create`` shows in targetcli for one of our handlers."""
    return (f"{handler} devices are made through the SCST tree, not here: "
            f'echo "add_device NAME filename=PATH" >{mountpoint}/handlers/{handler}/mgmt')


class HandlerAnnouncer:
    """Serves ``org.kernel.TCMUService1`` for ``handlers`` on a bus, from its own thread."""

    def __init__(self, handlers: Iterable[str], mountpoint: str, bus: str = "SYSTEM",
                 connect: Callable[[str], Any] | None = None):
        self.handlers = sorted(handlers)
        self.mountpoint = mountpoint
        self.bus = bus
        self._connect = connect
        self._connection: Any = None
        self._settled = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect, own the name and answer, all on a thread of its own: a bus that is slow or
        broken never holds up the daemon.  ``wait()`` tells whether it worked."""
        self._thread = threading.Thread(target=self._run, name="dbus", daemon=True)
        self._thread.start()

    def wait(self, timeout: float = 10.0) -> bool:
        """Whether the first attempt made the name ours (False while unknown)."""
        self._settled.wait(timeout)
        return self._connection is not None

    def _run(self) -> None:
        """Own the name and serve; when the bus is missing or the name taken, try again now
        and then (the system bus may start after us, tcmu-runner may stop)."""
        logged = False
        while not self._stopping.is_set():
            try:
                self._connection = self._own_name(quiet=logged)
            finally:
                self._settled.set()
            if self._connection is not None:
                self._serve(self._connection)
                return
            logged = True
            self._stopping.wait(RETRY_SECONDS)

    def _own_name(self, quiet: bool) -> Any:
        try:
            from jeepney.bus_messages import message_bus  # noqa: PLC0415
            from jeepney.io.blocking import open_dbus_connection  # noqa: PLC0415

            connection = (self._connect or open_dbus_connection)(self.bus)
            reply = connection.send_and_get_reply(
                message_bus.RequestName(SERVICE, NAME_FLAG_DO_NOT_QUEUE), timeout=5)
        except Exception as error:  # no bus here: targetcli could not ask anyway
            if not quiet:
                log.info("D-Bus: not announcing handlers to targetcli (yet): %s", error)
            return None
        if reply.body != (NAME_PRIMARY_OWNER,):
            if not quiet:
                log.info("D-Bus: %s is owned by another service (tcmu-runner?); targetcli "
                         "lists our devices only under the LUNs that use them", SERVICE)
            connection.close()
            return None
        log.info("D-Bus: announcing %s to targetcli as %s", ", ".join(self.handlers), SERVICE)
        return connection

    def stop(self) -> None:
        self._stopping.set()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _serve(self, connection: Any) -> None:
        from jeepney import HeaderFields, MessageType  # noqa: PLC0415

        while self._connection is not None:
            try:
                message = connection.receive()
            except Exception:  # closed by stop(), or the bus went away
                return
            if message.header.message_type != MessageType.method_call:
                continue
            fields = message.header.fields
            try:
                connection.send(self.answer(message, fields[HeaderFields.path],
                                            fields.get(HeaderFields.interface, ""),
                                            fields[HeaderFields.member]))
            except Exception as error:  # one bad request must not end the service
                log.warning("D-Bus: cannot answer %s: %s", fields.get(HeaderFields.member),
                            error)

    def answer(self, message: Any, path: str, interface: str, member: str) -> Any:
        """The reply to one method call (a pure function of the request, for tests)."""
        from jeepney import new_error, new_method_return  # noqa: PLC0415

        handler = path.rsplit("/", 1)[-1] if path.startswith(ROOT_PATH + "/") else None
        if path != ROOT_PATH and handler not in self.handlers:
            return new_error(message, UNKNOWN_OBJECT, "s", (f"no object {path}",))
        if interface == PEER and member == "Ping":
            return new_method_return(message)
        if interface in (INTROSPECTABLE, "") and member == "Introspect":
            return new_method_return(message, "s", (self._introspection(handler),))
        if handler is None:
            if interface in (OBJECT_MANAGER, "") and member == "GetManagedObjects":
                objects = {f"{ROOT_PATH}/{name}": {HANDLER_INTERFACE: self._properties(name)}
                           for name in self.handlers}
                return new_method_return(message, "a{oa{sa{sv}}}", (objects,))
        elif interface == PROPERTIES and member == "GetAll":
            wanted = message.body[0]
            properties = self._properties(handler) if wanted in (HANDLER_INTERFACE, "") else {}
            return new_method_return(message, "a{sv}", (properties,))
        elif interface == PROPERTIES and member == "Get":
            value = self._properties(handler).get(message.body[1])
            if value is not None:
                return new_method_return(message, "v", (value,))
        elif interface in (HANDLER_INTERFACE, "") and member == "CheckConfig":
            return new_method_return(message, "bs", (False, self._refusal(handler)))
        elif interface in (HANDLER_INTERFACE, "") and member == "ChangeMedium":
            return new_method_return(message, "is", (-errno.EOPNOTSUPP, self._refusal(handler)))
        return new_error(message, UNKNOWN_METHOD, "s", (f"no method {interface}.{member}",))

    def _properties(self, handler: str) -> dict[str, tuple[str, str]]:
        return {"ConfigDesc": ("s", config_description(handler, self.mountpoint))}

    def _refusal(self, handler: str) -> str:
        return (f"tcmu-scst serves {handler}; create or change its devices through "
                f"{self.mountpoint}/handlers/{handler}/mgmt so that a worker serves them")

    def _introspection(self, handler: str | None) -> str:
        if handler is not None:
            return HANDLER_XML
        children = "".join(f'  <node name="{name}"/>\n' for name in self.handlers)
        return (f'<node>\n  <interface name="{OBJECT_MANAGER}">\n'
                '    <method name="GetManagedObjects">\n'
                '      <arg type="a{oa{sa{sv}}}" name="objects" direction="out"/>\n'
                f"    </method>\n  </interface>\n{children}</node>\n")
