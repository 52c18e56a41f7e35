"""A frozen TensorFlow graph executed op by op as a differentiable PyTorch module (NCHW inside).

Supports the ops of FaceNet's frozen Inception-ResNet-v1 graph: Conv2D (SAME/VALID, strides), BiasAdd,
Relu, ConcatV2, Mul, Add, MaxPool, AvgPool, Reshape (flatten / to 1x1 maps), MatMul, FusedBatchNorm
(inference), Square, Sum, Maximum, Rsqrt. The graph's constants become buffers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.face.tf_graph import Node, attr_ints, attr_scalar, constant, read_graph

SUPPORTED_OPS = {
    "Const",
    "Placeholder",
    "Conv2D",
    "BiasAdd",
    "Relu",
    "ConcatV2",
    "Mul",
    "Add",
    "MaxPool",
    "AvgPool",
    "Reshape",
    "MatMul",
    "FusedBatchNorm",
    "Square",
    "Sum",
    "Maximum",
    "Rsqrt",
}


def _same_padding(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], value: float = 0.0) -> Tensor:
    """TensorFlow 'SAME' padding (the extra pixel goes to the bottom/right)."""
    pads = []
    for size, k, s in zip(x.shape[-1:-3:-1], kernel[::-1], stride[::-1], strict=True):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


def _clean(name: str) -> str:
    return name.replace("/", "__").replace(":", "_").replace("^", "")


class TFGraphModule(nn.Module):
    """Execute the sub-graph that computes ``output`` from the Placeholder ``input`` (NHWC in TF).

    forward takes (B, C, H, W) and returns the output tensor (NCHW for 4-D results).
    """

    def __init__(self, graph: dict[str, Node], output: str, input_name: str = "input"):
        super().__init__()
        self.input_name, self.output = input_name, output
        order, seen = [], set()

        def visit(name: str) -> None:
            name = name.split(":")[0].lstrip("^")
            if name in seen:
                return
            seen.add(name)
            node = graph[name]
            for parent in node.inputs:
                visit(parent)
            order.append(node)

        visit(output)
        unsupported = {n.op for n in order} - SUPPORTED_OPS
        if unsupported:
            raise ValueError(f"unsupported TensorFlow ops {sorted(unsupported)}")
        self.nodes = [n for n in order if n.op != "Const"]
        self.const_names = {}
        for node in order:
            if node.op == "Const":
                value = torch.from_numpy(np.ascontiguousarray(constant(node)))
                if value.ndim == 4:  # conv weights HWIO -> OIHW
                    value = value.permute(3, 2, 0, 1).contiguous()
                key = _clean(node.name)
                self.register_buffer(key, value, persistent=True)
                self.const_names[node.name] = key
        self.attrs = {
            n.name: {
                "strides": attr_ints(n, "strides"),
                "ksize": attr_ints(n, "ksize"),
                "padding": attr_scalar(n, "padding"),
                "epsilon": attr_scalar(n, "epsilon"),
                "keep_dims": bool(attr_scalar(n, "keep_dims")),
            }
            for n in self.nodes
        }

    def _value(self, values: dict[str, Tensor], name: str) -> Tensor:
        name = name.split(":")[0]
        if name in self.const_names:
            return getattr(self, self.const_names[name])
        return values[name]

    def forward(self, x: Tensor) -> Tensor:
        values: dict[str, Tensor] = {self.input_name: x}
        for node in self.nodes:
            if node.op == "Placeholder":
                continue
            args = [self._value(values, i) for i in node.inputs if not i.startswith("^")]
            attrs = self.attrs[node.name]
            values[node.name] = self._run(node.op, args, attrs)
        return values[self.output]

    @staticmethod
    def _run(op: str, args: list[Tensor], attrs: dict) -> Tensor:
        if op == "Conv2D":
            x, w = args
            stride = tuple(attrs["strides"][1:3])
            if attrs["padding"] == b"SAME":
                x = _same_padding(x, tuple(w.shape[-2:]), stride)
            return F.conv2d(x, w, stride=stride)
        if op in ("MaxPool", "AvgPool"):
            (x,) = args
            kernel, stride = tuple(attrs["ksize"][1:3]), tuple(attrs["strides"][1:3])
            if attrs["padding"] == b"SAME":
                raise ValueError("SAME pooling is not needed by the supported graphs")
            pool = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
            return pool(x, kernel, stride)
        if op == "BiasAdd":
            x, b = args
            return x + (b.view(1, -1, 1, 1) if x.ndim == 4 else b)
        if op == "Relu":
            return F.relu(args[0])
        if op == "ConcatV2":
            *tensors, axis = args
            axis = int(axis)
            return torch.cat(tensors, dim=1 if tensors[0].ndim == 4 and axis in (3, -1) else axis)
        if op in ("Mul", "Add", "Maximum"):
            a, b = args
            return a * b if op == "Mul" else a + b if op == "Add" else torch.maximum(a, b)
        if op == "Reshape":
            x, shape = args
            return x.reshape(x.shape[0], -1, 1, 1) if shape.numel() == 4 else x.reshape(x.shape[0], -1)
        if op == "MatMul":
            return args[0] @ args[1]
        if op == "FusedBatchNorm":
            x, scale, offset, mean, var = args
            shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
            inv = scale / torch.sqrt(var + attrs["epsilon"])
            return (x - mean.view(shape)) * inv.view(shape) + offset.view(shape)
        if op == "Square":
            return args[0] * args[0]
        if op == "Sum":
            x, axis = args
            return x.sum(dim=int(axis), keepdim=attrs["keep_dims"])
        if op == "Rsqrt":
            return torch.rsqrt(args[0])
        raise ValueError(f"unsupported op {op}")


def load_tf_graph(path: str | Path, output: str, input_name: str = "input") -> TFGraphModule:
    return TFGraphModule(read_graph(path), output, input_name).eval()
