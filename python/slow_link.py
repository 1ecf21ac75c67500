"""A TCP relay that behaves like a slow, distant link, for measurements on one machine.

Usage: python python/slow_link.py LISTEN_PORT TARGET_HOST:PORT RATE_MBIT ONE_WAY_DELAY_MS

Each connection accepted on 127.0.0.1:LISTEN_PORT is forwarded to TARGET. Both directions are
delayed by ONE_WAY_DELAY_MS and paced at RATE_MBIT megabits per second. The relay holds at most
one bandwidth-delay product plus 256 KB per direction and reads no faster than it forwards, so
TCP's flow control holds the sender back as a real bottleneck does. (This kernel has no netem;
PLATFORM.md.) It runs until killed.
"""

import asyncio
import sys
import time


async def pump(reader, writer, rate, delay):
    """Forwards reader to writer, each chunk released at max(arrival + delay, paced time)."""
    bdp = int(rate * delay) + (256 << 10)
    queue = asyncio.Queue(maxsize=max(4, bdp // 16384))
    done = object()

    async def take():
        while True:
            chunk = await reader.read(16384)
            if not chunk:
                await queue.put(done)
                return
            await queue.put((time.monotonic() + delay, chunk))

    async def give():
        free_at = time.monotonic()
        while True:
            item = await queue.get()
            if item is done:
                break
            due, chunk = item
            free_at = max(free_at, due) + len(chunk) / rate
            wait = free_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        writer.close()

    await asyncio.gather(take(), give())


async def main():
    port, target, mbit, delay_ms = sys.argv[1:5]
    host, tport = target.rsplit(":", 1)
    rate = float(mbit) * 1e6 / 8
    delay = float(delay_ms) / 1000

    async def handle(r1, w1):
        # The target party may not listen yet: retry for 10 s.
        for _ in range(1000):
            try:
                r2, w2 = await asyncio.open_connection(host, int(tport))
                break
            except OSError:
                await asyncio.sleep(0.01)
        else:
            w1.close()
            return
        try:
            await asyncio.gather(pump(r1, w2, rate, delay), pump(r2, w1, rate, delay))
        except (ConnectionError, OSError):
            pass
        finally:
            w1.close()
            w2.close()

    server = await asyncio.start_server(handle, "127.0.0.1", int(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
