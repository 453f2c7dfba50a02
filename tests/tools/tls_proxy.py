"""A TLS front for a plain-HTTP test server: terminates TLS on 127.0.0.1:LISTEN with CERT/KEY
and relays the bytes to 127.0.0.1:TARGET. The SCIM tests put it before scim2-server (which
speaks plain HTTP) to exercise the client's CA and TLS options against a real handshake.

    python3 tls_proxy.py LISTEN TARGET CERT KEY
"""

import asyncio
import ssl
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main(listen, target, cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen, ssl=context)
    print(f"tls_proxy: 127.0.0.1:{listen} -> 127.0.0.1:{target}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    listen, target, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    asyncio.run(main(listen, target, cert, key))
