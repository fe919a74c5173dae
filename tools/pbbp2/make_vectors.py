"""Writes vc-api/proto/pbbp2_vectors.json: frames of the long connection encoded by Google's
protobuf package for Python, an implementation independent of prost, so that the Rust test
`frame::tests::encoding_matches_python_protobuf` can compare bytes.

The message types are built at run time from a descriptor that mirrors vc-api/proto/pbbp2.proto
field for field (no protoc needed). Run once after changing the .proto or the cases:

    python3 -m venv /tmp/pbenv && /tmp/pbenv/bin/pip install protobuf==5.29.3
    /tmp/pbenv/bin/python tools/pbbp2/make_vectors.py

The committed vectors were made with protobuf 5.29.3 (pure-Python or upb backend: same bytes).
"""

import json
import pathlib

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def field(message, name, number, kind, label, type_name=None):
    f = message.field.add(name=name, number=number, type=kind, label=label)
    if type_name:
        f.type_name = type_name


file = descriptor_pb2.FileDescriptorProto(name="pbbp2.proto", package="pbbp2", syntax="proto2")
header = file.message_type.add(name="Header")
field(header, "key", 1, F.TYPE_STRING, F.LABEL_REQUIRED)
field(header, "value", 2, F.TYPE_STRING, F.LABEL_REQUIRED)
frame = file.message_type.add(name="Frame")
field(frame, "SeqID", 1, F.TYPE_UINT64, F.LABEL_REQUIRED)
field(frame, "LogID", 2, F.TYPE_UINT64, F.LABEL_REQUIRED)
field(frame, "service", 3, F.TYPE_INT32, F.LABEL_REQUIRED)
field(frame, "method", 4, F.TYPE_INT32, F.LABEL_REQUIRED)
field(frame, "headers", 5, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".pbbp2.Header")
field(frame, "payload_encoding", 6, F.TYPE_STRING, F.LABEL_OPTIONAL)
field(frame, "payload_type", 7, F.TYPE_STRING, F.LABEL_OPTIONAL)
field(frame, "payload", 8, F.TYPE_BYTES, F.LABEL_OPTIONAL)
field(frame, "LogIDNew", 9, F.TYPE_STRING, F.LABEL_OPTIONAL)

pool = descriptor_pool.DescriptorPool()
pool.Add(file)
Frame = message_factory.GetMessageClass(pool.FindMessageTypeByName("pbbp2.Frame"))

# Each case: the field values (payload as UTF-8 text) and, below, the bytes Python makes.
CASES = [
    # A ping: every required number is 0 except the service, and must still be on the wire.
    ("ping", dict(SeqID=0, LogID=0, service=7, method=0, headers=[("type", "ping")])),
    # Everything zero: the four required fields alone.
    ("all_zero", dict(SeqID=0, LogID=0, service=0, method=0, headers=[])),
    # A data frame with every field, large and negative numbers included.
    (
        "event_part",
        dict(
            SeqID=300,
            LogID=18446744073709551615,
            service=-2,
            method=1,
            headers=[("type", "event"), ("message_id", "m-1"), ("sum", "2"), ("seq", "1"), ("trace_id", "t-9")],
            payload_encoding="",
            payload_type="json",
            payload='{"schema":"2.0"}',
            LogIDNew="20261207-abc",
        ),
    ),
    # An acknowledgement: the frame sent back with biz_rt and a code.
    (
        "ack",
        dict(
            SeqID=5,
            LogID=6,
            service=1,
            method=1,
            headers=[("type", "event"), ("message_id", "m-2"), ("biz_rt", "0")],
            payload='{"code":200}',
        ),
    ),
]

out = []
for name, values in CASES:
    message = Frame()
    for key, value in values.items():
        if key == "headers":
            for k, v in value:
                message.headers.add(key=k, value=v)
        elif key == "payload":
            message.payload = value.encode()
        else:
            setattr(message, key, value)
    out.append({"name": name, "frame": {**values, "headers": [list(h) for h in values["headers"]]},
                "hex": message.SerializeToString().hex()})

path = pathlib.Path(__file__).resolve().parents[2] / "vc-api" / "proto" / "pbbp2_vectors.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {len(out)} vectors to {path}")
