"""pymodbus's server with the one behaviour our simulators need changed, shared by all of them.

Meters, barrier relay boards and elevator boxes each decide what a unit answers (a datastore
context); how a request is answered and how a TCP or RTU endpoint is started is the same for
all of them, so it lives here once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler

log = logging.getLogger(__name__)

SimServer = ModbusTcpServer | ModbusSerialServer
Trace = Callable[[bool, bytes], bytes]


class RequestHandler(ServerRequestHandler):
    """Answers the request it was started for, even if another arrives while a unit is slow.

    pymodbus's handler reads the connection's *latest* request again after the datastore
    await; with a ``slow`` unit and a client that gave up and asked another unit, the late
    reply would carry the wrong unit id. A real late device answers with its own id. A unit
    the context does not know stays silent (the client times out, as on a real line).
    """

    async def handle_request(self) -> None:
        pdu, addr = self.last_pdu, self.last_addr
        if pdu is None:
            return
        try:
            response = await pdu.datastore_update(self.server.context, pdu.dev_id)
        except NoSuchIdException:
            return
        except Exception:
            log.exception("simulated unit %d failed to answer", pdu.dev_id)
            response = ExceptionResponse(pdu.function_code, ExcCodes.DEVICE_FAILURE)
        response.transaction_id = pdu.transaction_id
        response.dev_id = pdu.dev_id
        self.server_send(response, addr)


class TcpServer(ModbusTcpServer):
    def callback_new_connection(self) -> RequestHandler:
        return RequestHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class SerialServer(ModbusSerialServer):
    def callback_new_connection(self) -> RequestHandler:
        return RequestHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


async def serve(context: ModbusServerContext, *, tcp: tuple[str, int] | None = None,
                serial_port: str | None = None, baudrate: int = 9600,
                trace_packet: Trace | None = None) -> SimServer:
    """Start serving ``context`` on a TCP address or a serial port (RTU), in the background."""
    server: SimServer
    if tcp is not None:
        server = TcpServer(context, framer=FramerType.SOCKET, address=tcp,
                           ignore_missing_devices=True, trace_packet=trace_packet)
    else:
        server = SerialServer(context, framer=FramerType.RTU, port=serial_port or "",
                              baudrate=baudrate, ignore_missing_devices=True,
                              trace_packet=trace_packet)
    await server.serve_forever(background=True)
    return server
