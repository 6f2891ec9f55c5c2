"""Every message on the bus round-trips, and a reader keeps fields only a newer writer knows."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from vigil import topics

TYPE = FieldDescriptor


def populate(message: Message, depth: int = 0) -> Message:
    """Set every field to a non-default value, nested messages included."""
    for field in message.DESCRIPTOR.fields:
        value = _value(field, depth)
        if field.is_repeated:
            if field.type == TYPE.TYPE_MESSAGE:
                populate(getattr(message, field.name).add(), depth + 1)
                populate(getattr(message, field.name).add(), depth + 1)
            else:
                getattr(message, field.name).extend([value, value])
        elif field.type == TYPE.TYPE_MESSAGE:
            populate(getattr(message, field.name), depth + 1)
        else:
            setattr(message, field.name, value)
    return message


def _value(field: FieldDescriptor, depth: int) -> object:
    if field.type == TYPE.TYPE_MESSAGE:
        return None
    if field.type == TYPE.TYPE_ENUM:
        return field.enum_type.values[-1].number
    if field.type == TYPE.TYPE_STRING:
        return f"{field.name}-{depth}"
    if field.type == TYPE.TYPE_BYTES:
        return bytes(range(7))
    if field.type == TYPE.TYPE_BOOL:
        return True
    if field.type in (TYPE.TYPE_FLOAT, TYPE.TYPE_DOUBLE):
        return 1.5 + field.number
    return field.number + 1000 * (depth + 1)


@pytest.mark.parametrize("topic", topics.ALL, ids=lambda t: t.name)
def test_every_message_round_trips(topic: topics.Topic) -> None:
    original = populate(topic.message())
    assert original.ListFields(), "populated"
    decoded = topic.message.FromString(original.SerializeToString())
    assert decoded == original


def _newer_version(descriptor: Descriptor) -> type[Message]:
    """The same message from a newer writer: one more field, number 99."""
    pool = descriptor_pool.DescriptorPool()
    seen: set[str] = set()

    def add(file: object) -> None:
        for dependency in file.dependencies:  # type: ignore[attr-defined]
            add(dependency)
        if file.name in seen:  # type: ignore[attr-defined]
            return
        seen.add(file.name)  # type: ignore[attr-defined]
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)  # type: ignore[attr-defined]
        if file is descriptor.file:
            for message in proto.message_type:
                if message.name == descriptor.name:
                    message.field.add(name="added_later", number=99, type=TYPE.TYPE_STRING,
                                      label=TYPE.LABEL_OPTIONAL)
        pool.Add(proto)

    add(descriptor.file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(descriptor.full_name))


@pytest.mark.parametrize("topic", topics.ALL, ids=lambda t: t.name)
def test_unknown_fields_from_a_newer_writer_are_kept(topic: topics.Topic) -> None:
    newer = _newer_version(topic.message.DESCRIPTOR)
    written = newer(added_later="from the future")
    ours = topic.message.FromString(written.SerializeToString())  # an older service reads it
    passed_on = ours.SerializeToString()  # ... and forwards it unchanged
    assert newer.FromString(passed_on).added_later == "from the future"  # type: ignore[attr-defined]
