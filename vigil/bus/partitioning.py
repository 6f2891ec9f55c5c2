"""Key -> partition, the same way Kafka's default partitioner does (murmur2), so a camera lands on
the same partition number on both adapters."""

from aiokafka.partitioner import murmur2


def partition_for(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def assign_round_robin(
    members: list[str], partitions: list[tuple[str, int]]
) -> dict[str, set[tuple[str, int]]]:
    """Split partitions between the group's members, in a stable order."""
    assignment: dict[str, set[tuple[str, int]]] = {m: set() for m in members}
    ordered = sorted(members)
    for i, tp in enumerate(sorted(partitions)):
        assignment[ordered[i % len(ordered)]].add(tp)
    return assignment
