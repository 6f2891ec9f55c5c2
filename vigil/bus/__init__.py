"""The message bus: one interface, a Kafka adapter and an in-process adapter."""

from vigil.bus.base import Bus, Consumer, Record
from vigil.bus.kafka import KafkaBus
from vigil.bus.memory import MemoryBus

__all__ = ["Bus", "Consumer", "KafkaBus", "MemoryBus", "Record"]
