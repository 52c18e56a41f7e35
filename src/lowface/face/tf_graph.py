"""Reading a TensorFlow frozen GraphDef (``.pb``) without TensorFlow: constants and node structure.

Only the protobuf wire format is needed: GraphDef.node (1) -> NodeDef {name 1, op 2, input 3, attr 5};
AttrValue {s 2, i 3, f 4, b 5, type 6, shape 7, tensor 8, list 1}; TensorProto {dtype 1, tensor_shape 2,
tensor_content 4, float_val 5, int_val 7}; TensorShapeProto {dim 2 -> size 1}.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TF_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int, bytes | int]]:
    """Yield (field number, wire type, value) of a serialised protobuf message."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, bytes] = field(default_factory=dict)


def _tensor(raw: bytes) -> np.ndarray:
    dtype, shape, content, floats, ints = 1, [], b"", [], []
    for number, wire, value in fields(raw):
        if number == 1:
            dtype = value
        elif number == 2:
            shape = [next((v for n, _, v in fields(dim) if n == 1), 0) for n, _, dim in fields(value) if n == 2]
        elif number == 4:
            content = value
        elif number == 5:
            floats += (
                list(struct.unpack(f"<{len(value) // 4}f", value)) if wire == 2 else [struct.unpack("<f", value)[0]]
            )
        elif number == 7:
            ints += [value] if wire == 0 else _packed_varints(value)
    np_dtype = TF_DTYPES.get(dtype)
    if np_dtype is None:
        raise ValueError(f"unsupported TensorFlow dtype {dtype}")
    if content:
        array = np.frombuffer(content, dtype=np.dtype(np_dtype).newbyteorder("<")).astype(np_dtype)
    else:
        values = floats if np_dtype in (np.float32, np.float64) else ints
        count = int(np.prod(shape)) if shape else 1
        array = (
            np.full(count, values[0] if values else 0, np_dtype) if len(values) <= 1 else np.asarray(values, np_dtype)
        )
    return array.reshape(shape) if shape else array.reshape(())


def _packed_varints(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        out.append(value)
    return out


def read_graph(path: str | Path) -> dict[str, Node]:
    """Nodes of a frozen GraphDef by name (attributes kept as raw AttrValue bytes)."""
    nodes: dict[str, Node] = {}
    for number, _, raw in fields(Path(path).read_bytes()):
        if number != 1:
            continue
        node = Node("", "")
        for n, _, value in fields(raw):
            if n == 1:
                node.name = value.decode()
            elif n == 2:
                node.op = value.decode()
            elif n == 3:
                node.inputs.append(value.decode())
            elif n == 5:
                key, attr = "", b""
                for m, _, v in fields(value):
                    if m == 1:
                        key = v.decode()
                    elif m == 2:
                        attr = v
                node.attrs[key] = attr
        nodes[node.name] = node
    return nodes


def constant(node: Node) -> np.ndarray:
    """The value of a Const node."""
    for number, _, value in fields(node.attrs["value"]):
        if number == 8:
            return _tensor(value)
    raise ValueError(f"node {node.name} has no tensor value")


def attr_scalar(node: Node, key: str) -> int | float | bytes | None:
    """An int (3), float (4), bool (5) or string (2) attribute."""
    for number, _, value in fields(node.attrs.get(key, b"")):
        if number in (3, 5):
            return value
        if number == 4:
            return struct.unpack("<f", value)[0]
        if number == 2:
            return value
    return None


def attr_ints(node: Node, key: str) -> list[int]:
    """A list-of-ints attribute (e.g. strides, ksize)."""
    for number, _, value in fields(node.attrs.get(key, b"")):
        if number == 1:  # AttrValue.list
            out: list[int] = []
            for n, wire, v in fields(value):
                if n == 3:
                    out += _packed_varints(v) if wire == 2 else [v]
            return out
    return []
