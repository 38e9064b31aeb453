"""GetCapabilities over the driver's Unix socket with Python grpcio, as a grpc-core client.

Usage: get_capabilities.py SOCKET [AUTHORITY]. Without AUTHORITY the channel has grpcio's
default options, so grpc-core sends the socket path as the HTTP/2 :authority. Prints
"OK <driver_name>" or "ERR <code> <details>"; exits 0 either way, so the caller judges.
"""

import sys

import grpc


def main() -> None:
    socket, authority = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    options = [("grpc.default_authority", authority)] if authority else []
    with grpc.insecure_channel("unix:" + socket, options=options) as channel:
        # GetCapabilitiesRequest is empty; the response's field 1 is driver_name.
        call = channel.unary_unary(
            "/openshell.compute.v1.ComputeDriver/GetCapabilities",
            request_serializer=lambda raw: raw,
            response_deserializer=lambda raw: raw,
        )
        try:
            response = call(b"", timeout=10)
        except grpc.RpcError as e:
            print("ERR", e.code().name, e.details())
            return
        name = response[2 : 2 + response[1]].decode() if response[:1] == b"\n" else ""
        print("OK", name)


if __name__ == "__main__":
    main()
