"""The bus: round-trip latency and throughput of 100 KB messages, in-process and on Kafka."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests import servers
from vigil.bus import Bus, KafkaBus, MemoryBus

SIZE = 100 * 1024


async def _measure(bus: Bus, round_trips: int, burst: int) -> dict[str, Any]:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics([topic])
    consumer = bus.consumer([topic], f"bench-{topic}")
    await consumer.start()
    payload = os.urandom(SIZE)
    try:
        # Warm-up: the first record also waits for the group's assignment.
        await bus.publish(topic, "k", payload)
        while not await consumer.poll(1, 0.5):
            pass
        latencies = []
        for _ in range(round_trips):
            started = time.perf_counter()
            await bus.publish(topic, "k", payload)
            got: list[Any] = []
            while not got:
                got = await consumer.poll(1, 1.0)
            latencies.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        received = 0

        async def produce() -> None:
            for i in range(burst):
                await bus.publish(topic, f"k{i % 8}", payload)

        producer = asyncio.create_task(produce())
        while received < burst:
            received += len(await consumer.poll(500, 1.0))
        await producer
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "round_trip_ms_p50": round(quantiles[49], 3),
        "round_trip_ms_p99": round(quantiles[98], 3),
        "throughput_msgs_per_s": round(burst / elapsed, 1),
        "throughput_mb_per_s": round(burst * SIZE / elapsed / 1e6, 1),
        "message_bytes": SIZE,
        "round_trips": round_trips,
        "burst": burst,
    }


async def _run() -> dict[str, Any]:
    memory = MemoryBus(partitions=8, retention_records=100_000)
    await memory.start()
    results = {"memory": await _measure(memory, 500, 2000)}
    with tempfile.TemporaryDirectory() as tmp:
        broker = servers.start_kafka(Path(tmp))
        kafka = KafkaBus(broker.address, partitions=8)
        try:
            await kafka.start()
            results["kafka"] = await _measure(kafka, 200, 1000)
        finally:
            await kafka.stop()
            broker.stop()
    results["kafka_to_memory_p50_ratio"] = round(
        results["kafka"]["round_trip_ms_p50"] / results["memory"]["round_trip_ms_p50"], 1
    )
    return results


def run() -> dict[str, Any]:
    return asyncio.run(_run())
