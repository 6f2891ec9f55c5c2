"""Key -> partition, the same way Kafka's default partitioner does (murmur2), so a camera lands on
the same partition number on both adapters."""

from aiokafka.partitioner import murmur2


def partition_for(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def assign_ranges(
    members: list[str], topics: list[str], partitions: int
) -> dict[str, set[tuple[str, int]]]:
    """Kafka's range assignment: each member gets the same partition numbers of every topic.

    A key has the same partition number in every topic, so one member sees all of a camera's
    frames, events and verdicts (a consumer that joins topics per camera needs that).
    """
    ordered = sorted(members)
    assignment: dict[str, set[tuple[str, int]]] = {m: set() for m in members}
    if not ordered:
        return assignment
    share, extra = divmod(partitions, len(ordered))
    start = 0
    for i, member in enumerate(ordered):
        count = share + (1 if i < extra else 0)
        assignment[member] = {(t, p) for t in topics for p in range(start, start + count)}
        start += count
    return assignment
