#!/usr/bin/python3
"""Converts a TensorFlow.js graph model (model.json plus weight shards) to ONNX for OpenCV DNN.

The output is ONNX opset 11 in NCHW layout, shaped so that OpenCV 4.6's ONNX importer
(cv::dnn::readNetFromONNX) loads it:
  * 4-D tensors are kept NCHW; 2-D/3-D tensors keep TensorFlow's layout, so a Reshape of a
    4-D tensor first transposes it back to NHWC (TensorFlow flattens in NHWC order).
  * Relu6 is written as Clip with min/max *attributes*: OpenCV 4.6's parseClip only reads the
    attributes and rejects the opset-11 form with min/max as inputs.
  * TensorFlow's SAME padding puts the odd pixel at the end (pad_before = total // 2); ONNX's
    auto_pad=SAME_UPPER does too, but OpenCV computes its own, so pads are written explicitly.
  * The batch dimension is fixed to 1 and every shape is inferred statically, so shape
    arithmetic in the graph (Shape, StridedSlice, Pack feeding a Reshape) folds to constants.

Weights stored as float16 or uint8/uint16 (affine: q * scale + min) are dequantized to
float32. An op the table below does not know stops the conversion with its name and node.

Usage: tfjs_to_onnx.py MODEL.json OUT.onnx
"""

import base64
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 11


class ConversionError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Weights


def load_weights(model_json, base_dir):
    """Returns {name: np.ndarray} from the weightsManifest of a TF.js graph model."""
    weights = {}
    for group in model_json.get("weightsManifest", []):
        data = b""
        for p in group["paths"]:
            with open(os.path.join(base_dir, p), "rb") as f:
                data += f.read()
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            dtype = spec["dtype"]
            if quant:
                qdtype = quant["dtype"]
                if qdtype == "float16":
                    arr = np.frombuffer(data, np.float16, count, offset).astype(np.float32)
                    offset += 2 * count
                elif qdtype in ("uint8", "uint16"):
                    npq = np.uint8 if qdtype == "uint8" else np.uint16
                    q = np.frombuffer(data, npq, count, offset)
                    offset += q.itemsize * count
                    arr = q.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
                else:
                    raise ConversionError(f"weight {spec['name']}: unsupported quantization {qdtype}")
                if dtype == "int32":
                    arr = np.round(arr).astype(np.int32)
            else:
                npt = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}.get(dtype)
                if npt is None:
                    raise ConversionError(f"weight {spec['name']}: unsupported dtype {dtype}")
                arr = np.frombuffer(data, npt, count, offset)
                offset += arr.itemsize * count
            weights[spec["name"]] = arr.reshape(shape).copy()
        if offset != len(data):
            raise ConversionError(f"weight shards {group['paths']}: {len(data)} bytes, manifest uses {offset}")
    return weights


def inline_tensor(attr_value):
    """Decodes a Const node's inline TensorProto (attr 'value') when it has no weight entry."""
    t = attr_value["tensor"]
    dtype = {"DT_FLOAT": np.float32, "DT_INT32": np.int32}.get(t.get("dtype"))
    if dtype is None:
        raise ConversionError(f"inline constant of type {t.get('dtype')} is not supported")
    shape = [int(d.get("size", 1)) for d in t.get("tensorShape", {}).get("dim", [])]
    if "tensorContent" in t:
        arr = np.frombuffer(base64.b64decode(t["tensorContent"]), dtype)
    else:
        vals = t.get("floatVal" if dtype == np.float32 else "intVal", [0])
        arr = np.array(vals, dtype)
        if arr.size == 1 and shape:
            arr = np.full(shape, arr[0], dtype)
    return arr.reshape(shape)


# ---------------------------------------------------------------------------------------------
# Attribute helpers


def attr_s(node, key, default=None):
    a = node.get("attr", {}).get(key)
    return base64.b64decode(a["s"]).decode() if a and "s" in a else default


def attr_i(node, key, default=None):
    a = node.get("attr", {}).get(key)
    return int(a["i"]) if a and "i" in a else default


def attr_f(node, key, default=None):
    a = node.get("attr", {}).get(key)
    return float(a["f"]) if a and "f" in a else default


def attr_b(node, key, default=False):
    a = node.get("attr", {}).get(key)
    return bool(a["b"]) if a and "b" in a else default


def attr_ints(node, key, default=None):
    a = node.get("attr", {}).get(key)
    if a and "list" in a:
        return [int(v) for v in a["list"].get("i", [])]
    return default


def attr_strs(node, key):
    a = node.get("attr", {}).get(key)
    if a and "list" in a:
        return [base64.b64decode(v).decode() for v in a["list"].get("s", [])]
    return []


def same_pads(in_size, kernel, stride, dilation=1):
    """TensorFlow's SAME padding for one spatial axis: (before, after), extra pixel at the end."""
    eff = (kernel - 1) * dilation + 1
    out = -(-in_size // stride)
    total = max((out - 1) * stride + eff - in_size, 0)
    return total // 2, total - total // 2


NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


# ---------------------------------------------------------------------------------------------
# Converter


class Converter:
    def __init__(self, model_json, weights):
        self.model = model_json
        self.weights = weights
        self.nodes = []  # onnx NodeProto
        self.initializers = []
        self.shape = {}  # tf tensor name -> TF (NHWC) shape list
        self.onnx_name = {}  # tf tensor name -> onnx value name
        self.const = {}  # tf tensor name -> np.ndarray for constants and folded values
        self.counter = 0

    # -- helpers ---------------------------------------------------------------------------
    def fresh(self, base):
        self.counter += 1
        return f"{base}__{self.counter}"

    def add_init(self, base, arr):
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def emit(self, op, inputs, base, **attrs):
        out = self.fresh(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def value(self, tf_name, node):
        """ONNX name of a non-constant input; a constant used as data becomes an initializer."""
        if tf_name in self.onnx_name:
            return self.onnx_name[tf_name]
        if tf_name in self.const:
            arr = self.const[tf_name]
            if arr.ndim == 4:
                arr = arr.transpose(0, 3, 1, 2)
            name = self.add_init(tf_name, arr.astype(np.float32) if arr.dtype != np.int64 else arr)
            self.onnx_name[tf_name] = name
            return name
        raise ConversionError(f"node {node['name']} ({node['op']}): input {tf_name} is not available")

    def get_const(self, tf_name, node, what):
        if tf_name not in self.const:
            raise ConversionError(f"node {node['name']} ({node['op']}): {what} ({tf_name}) must be constant")
        return self.const[tf_name]

    def activation(self, x, act, node, extra):
        """Applies a fused activation by name; extra holds the extra fused arguments."""
        if act == "Relu":
            return self.emit("Relu", [x], node["name"] + "/relu")
        if act == "Relu6":
            return self.emit("Clip", [x], node["name"] + "/relu6", min=0.0, max=6.0)
        if act == "Prelu":
            alpha = self.get_const(extra[0], node, "Prelu alpha").astype(np.float32)
            return self.emit("PRelu", [x, self.add_init(node["name"] + "/alpha", self.channel_param(alpha))], node["name"] + "/prelu")
        if act == "LeakyRelu":
            return self.emit("LeakyRelu", [x], node["name"] + "/leaky", alpha=attr_f(node, "leakyrelu_alpha", 0.2))
        if act == "Sigmoid":
            return self.emit("Sigmoid", [x], node["name"] + "/sigmoid")
        raise ConversionError(f"node {node['name']} ({node['op']}): unsupported fused op {act}")

    @staticmethod
    def channel_param(arr):
        """A per-channel parameter broadcastable over NCHW: [C] -> [C,1,1]."""
        return arr.reshape(-1, 1, 1)

    def broadcast_operand(self, tf_name, node, data_rank):
        """A constant operand of a binary op, laid out to broadcast against the other operand
        (NCHW when that one is 4-D; TF's own layout otherwise)."""
        arr = self.const[tf_name].astype(np.float32)
        if data_rank != 4:
            return self.add_init(tf_name, arr)
        if arr.ndim == 0 or arr.size == 1:
            return self.add_init(tf_name, arr.reshape([]))
        if arr.ndim == 1 or (arr.ndim <= 4 and all(d == 1 for d in arr.shape[:-1])):
            return self.add_init(tf_name, self.channel_param(arr.reshape(-1)))
        if arr.ndim == 4:
            return self.add_init(tf_name, arr.transpose(0, 3, 1, 2))
        raise ConversionError(f"node {node['name']} ({node['op']}): cannot broadcast constant of shape {arr.shape}")

    def spatial_pads(self, node, in_shape, kernel, strides, dilations):
        padding = attr_s(node, "padding", "VALID")
        if padding == "VALID":
            return [0, 0, 0, 0]
        if padding == "SAME":
            ph = same_pads(in_shape[1], kernel[0], strides[0], dilations[0])
            pw = same_pads(in_shape[2], kernel[1], strides[1], dilations[1])
            return [ph[0], pw[0], ph[1], pw[1]]
        if padding == "EXPLICIT":
            e = attr_ints(node, "explicit_paddings")
            return [e[2], e[4], e[3], e[5]]
        raise ConversionError(f"node {node['name']} ({node['op']}): unsupported padding {padding}")

    def check_nhwc(self, node):
        fmt = attr_s(node, "data_format", "NHWC")
        if fmt != "NHWC":
            raise ConversionError(f"node {node['name']} ({node['op']}): data_format {fmt} is not supported")

    @staticmethod
    def conv_out(size, kernel, stride, pads, dilation=1):
        return (size + pads[0] + pads[1] - ((kernel - 1) * dilation + 1)) // stride + 1

    # -- ops -------------------------------------------------------------------------------
    def op_conv(self, node, depthwise, fused):
        self.check_nhwc(node)
        x_name, w_name = node["input"][0], node["input"][1]
        x = self.value(x_name, node)
        w = self.get_const(w_name, node, "filter").astype(np.float32)
        in_shape = self.shape[x_name]
        strides = attr_ints(node, "strides", [1, 1, 1, 1])[1:3]
        dilations = attr_ints(node, "dilations", [1, 1, 1, 1])[1:3]
        kh, kw = w.shape[0], w.shape[1]
        pads = self.spatial_pads(node, in_shape, (kh, kw), strides, dilations)
        if depthwise:
            c, mult = w.shape[2], w.shape[3]
            # TF output channel c*mult+m reads input channel c; ONNX group g = k // mult.
            onnx_w = w.transpose(2, 3, 0, 1).reshape(c * mult, 1, kh, kw)
            group, out_c = c, c * mult
        else:
            onnx_w = w.transpose(3, 2, 0, 1)
            group, out_c = 1, w.shape[3]
        inputs = [x, self.add_init(w_name, onnx_w)]
        fused_ops = attr_strs(node, "fused_ops") if fused else []
        extra = node["input"][2:]
        if fused_ops and fused_ops[0] == "BiasAdd":
            bias = self.get_const(extra[0], node, "bias").astype(np.float32).reshape(-1)
            inputs.append(self.add_init(extra[0], bias))
            extra = extra[1:]
            fused_ops = fused_ops[1:]
        elif fused_ops and fused_ops[0] == "FusedBatchNorm":
            raise ConversionError(f"node {node['name']} ({node['op']}): unsupported fused op FusedBatchNorm")
        y = self.emit(
            "Conv", inputs, node["name"], kernel_shape=[kh, kw], strides=strides, dilations=dilations, pads=pads, group=group
        )
        for act in fused_ops:
            y = self.activation(y, act, node, extra)
        oh = self.conv_out(in_shape[1], kh, strides[0], (pads[0], pads[2]), dilations[0])
        ow = self.conv_out(in_shape[2], kw, strides[1], (pads[1], pads[3]), dilations[1])
        return y, [in_shape[0], oh, ow, out_c]

    def op_pool(self, node, onnx_op):
        self.check_nhwc(node)
        x_name = node["input"][0]
        in_shape = self.shape[x_name]
        k = attr_ints(node, "ksize")[1:3]
        s = attr_ints(node, "strides")[1:3]
        pads = self.spatial_pads(node, in_shape, k, s, (1, 1))
        # TF's SAME average pool divides by the number of real pixels: count_include_pad=0.
        y = self.emit(onnx_op, [self.value(x_name, node)], node["name"], kernel_shape=k, strides=s, pads=pads)
        oh = self.conv_out(in_shape[1], k[0], s[0], (pads[0], pads[2]))
        ow = self.conv_out(in_shape[2], k[1], s[1], (pads[1], pads[3]))
        return y, [in_shape[0], oh, ow, in_shape[3]]

    def op_pad(self, node, mode):
        x_name = node["input"][0]
        in_shape = self.shape[x_name]
        p = self.get_const(node["input"][1], node, "paddings").astype(np.int64)
        if len(in_shape) != 4:
            raise ConversionError(f"node {node['name']} ({node['op']}): only 4-D inputs are supported")
        order = [0, 3, 1, 2]  # NCHW axis i reads NHWC axis order[i]
        pads = [int(p[a, 0]) for a in order] + [int(p[a, 1]) for a in order]
        inputs = [self.value(x_name, node), self.add_init(node["name"] + "/pads", np.array(pads, np.int64))]
        if mode == "constant" and len(node["input"]) > 2:
            cval = float(self.get_const(node["input"][2], node, "constant_values"))
            inputs.append(self.add_init(node["name"] + "/value", np.array(cval, np.float32)))
        y = self.emit("Pad", inputs, node["name"], mode=mode)
        return y, [d + int(p[i, 0]) + int(p[i, 1]) for i, d in enumerate(in_shape)]

    def op_resize(self, node, mode):
        x_name = node["input"][0]
        in_shape = self.shape[x_name]
        size = self.get_const(node["input"][1], node, "size").astype(np.int64).reshape(-1)
        if attr_b(node, "align_corners"):
            ctm = "align_corners"
        elif attr_b(node, "half_pixel_centers") and mode == "linear":
            ctm = "half_pixel"
        elif attr_b(node, "half_pixel_centers"):
            # TF's nearest reads floor((o + 0.5) * in / out). OpenCV 4.6 rejects ONNX's
            # tf_half_pixel_for_nn and computes floor(o * in / out) in every mode; the two agree
            # only when out is a whole multiple of in, so anything else is refused.
            if size[0] % in_shape[1] or size[1] % in_shape[2]:
                raise ConversionError(
                    f"node {node['name']} ({node['op']}): half-pixel nearest resize from "
                    f"{in_shape[1]}x{in_shape[2]} to {size[0]}x{size[1]} is not a whole-number upscale"
                )
            ctm = "asymmetric"
        else:
            ctm = "asymmetric"
        attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
        if mode == "nearest":
            attrs["nearest_mode"] = "floor"
        roi = self.add_init(node["name"] + "/roi", np.array([], np.float32))
        scales = self.add_init(node["name"] + "/scales", np.array([], np.float32))
        sizes = self.add_init(node["name"] + "/sizes", np.array([in_shape[0], in_shape[3], size[0], size[1]], np.int64))
        y = self.emit("Resize", [self.value(x_name, node), roi, scales, sizes], node["name"], **attrs)
        return y, [in_shape[0], int(size[0]), int(size[1]), in_shape[3]]

    def op_reshape(self, node):
        x_name = node["input"][0]
        in_shape = self.shape[x_name]
        target = [int(v) for v in self.get_const(node["input"][1], node, "shape").reshape(-1)]
        total = int(np.prod(in_shape))
        if -1 in target:
            known = int(np.prod([d for d in target if d != -1]))
            target[target.index(-1)] = total // known
        if int(np.prod(target)) != total:
            raise ConversionError(f"node {node['name']} ({node['op']}): cannot reshape {in_shape} to {target}")
        if x_name in self.const:
            self.const[node["name"]] = self.const[x_name].reshape(target)
            return None, target
        x = self.value(x_name, node)
        if len(in_shape) == 4:
            x = self.emit("Transpose", [x], node["name"] + "/to_nhwc", perm=[0, 2, 3, 1])
        y = self.emit("Reshape", [x, self.add_init(node["name"] + "/shape", np.array(target, np.int64))], node["name"])
        if len(target) == 4:
            y = self.emit("Transpose", [y], node["name"] + "/to_nchw", perm=[0, 3, 1, 2])
        return y, target

    def op_concat(self, node):
        n = attr_i(node, "N", len(node["input"]) - 1)
        parts, axis_name = node["input"][:n], node["input"][n]
        shapes = [self.shape[p] for p in parts]
        rank = len(shapes[0])
        axis = int(self.get_const(axis_name, node, "axis"))
        axis = axis + rank if axis < 0 else axis
        out_shape = list(shapes[0])
        out_shape[axis] = sum(s[axis] for s in shapes)
        if all(p in self.const for p in parts):
            self.const[node["name"]] = np.concatenate([self.const[p] for p in parts], axis)
            return None, out_shape
        onnx_axis = NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis
        y = self.emit("Concat", [self.value(p, node) for p in parts], node["name"], axis=onnx_axis)
        return y, out_shape

    def op_binary(self, node, onnx_op):
        a, b = node["input"][0], node["input"][1]
        if a in self.const and b in self.const:
            fn = {"Add": np.add, "Mul": np.multiply, "Sub": np.subtract}[onnx_op]
            self.const[node["name"]] = fn(self.const[a], self.const[b])
            return None, list(self.const[node["name"]].shape)
        shape_a = self.shape[a] if a not in self.const else None
        shape_b = self.shape[b] if b not in self.const else None
        rank = len(shape_a or shape_b)
        ia = self.broadcast_operand(a, node, rank) if a in self.const else self.value(a, node)
        ib = self.broadcast_operand(b, node, rank) if b in self.const else self.value(b, node)
        if shape_a is not None and shape_b is not None and shape_a != shape_b:
            raise ConversionError(f"node {node['name']} ({node['op']}): broadcasting {shape_a} with {shape_b} is not supported")
        return self.emit(onnx_op, [ia, ib], node["name"]), shape_a or shape_b

    def op_depth_to_space(self, node):
        self.check_nhwc(node)
        x_name = node["input"][0]
        n, h, w, c = self.shape[x_name]
        b = attr_i(node, "block_size")
        # TF's NHWC DepthToSpace reads channel (i*b + j)*C' + c: ONNX mode DCR.
        y = self.emit("DepthToSpace", [self.value(x_name, node)], node["name"], blocksize=b, mode="DCR")
        return y, [n, h * b, w * b, c // (b * b)]

    def fold(self, node):
        """Constant-folds shape arithmetic (Shape, StridedSlice, Pack) on static shapes."""
        op, name = node["op"], node["name"]
        if op == "Shape":
            self.const[name] = np.array(self.shape[node["input"][0]], np.int32)
        elif op == "Pack":
            vals = [self.get_const(i, node, "value") for i in node["input"]]
            self.const[name] = np.stack(vals, attr_i(node, "axis", 0))
        elif op == "StridedSlice":
            x = self.get_const(node["input"][0], node, "input")
            begin, end, strides = (self.get_const(i, node, "slice bound") for i in node["input"][1:4])
            if any(attr_i(node, k, 0) for k in ("ellipsis_mask", "new_axis_mask")):
                raise ConversionError(f"node {name} ({op}): ellipsis/new-axis masks are not supported")
            bm, em, sm = (attr_i(node, k, 0) for k in ("begin_mask", "end_mask", "shrink_axis_mask"))
            index = []
            for i in range(len(begin)):
                if sm & (1 << i):
                    index.append(int(begin[i]))
                else:
                    index.append(
                        slice(None if bm & (1 << i) else int(begin[i]), None if em & (1 << i) else int(end[i]), int(strides[i]))
                    )
            self.const[name] = np.asarray(x[tuple(index)])
        self.shape[name] = list(self.const[name].shape)

    # -- driver ----------------------------------------------------------------------------
    def convert(self, name_hint):
        topo = self.model["modelTopology"]
        sig = self.model.get("signature") or topo.get("signature") or {}
        nodes = topo["node"]
        graph_inputs, outputs_map = [], {}
        for key, spec in sig.get("outputs", {}).items():
            outputs_map[spec["name"].split(":")[0]] = key
        for node in nodes:
            op, name = node["op"], node["name"]
            inputs = [i.split(":")[0] for i in node.get("input", []) if not i.startswith("^")]
            for i in inputs:
                if i not in self.shape and i not in self.const:
                    raise ConversionError(f"node {name} ({op}): input {i} is not defined before use")
            node = dict(node, input=inputs)
            result = None
            if op == "Const":
                if name in self.weights:
                    self.const[name] = self.weights[name]
                elif "value" in node.get("attr", {}):
                    self.const[name] = inline_tensor(node["attr"]["value"])
                else:
                    raise ConversionError(f"node {name} (Const): no weight data")
                self.shape[name] = list(self.const[name].shape)
                continue
            if op == "Placeholder":
                dims = [int(d.get("size", -1)) for d in node["attr"]["shape"]["shape"]["dim"]]
                dims = [1 if d < 0 else d for d in dims]
                if len(dims) != 4:
                    raise ConversionError(f"node {name} (Placeholder): only 4-D NHWC inputs are supported")
                vi = helper.make_tensor_value_info(name, TensorProto.FLOAT, [dims[0], dims[3], dims[1], dims[2]])
                graph_inputs.append(vi)
                self.onnx_name[name], self.shape[name] = name, dims
                continue
            if op in ("Shape", "Pack", "StridedSlice"):
                if op != "Shape" and not all(i in self.const for i in inputs):
                    raise ConversionError(f"node {name} ({op}): only constant (shape) arithmetic is supported")
                self.fold(node)
                continue
            if op in ("Identity", "StopGradient") and name not in outputs_map:
                src = inputs[0]
                if src in self.const:
                    self.const[name] = self.const[src]
                else:
                    self.onnx_name[name] = self.onnx_name[src]
                self.shape[name] = self.shape[src]
                continue
            handler = SUPPORTED_OPS.get(op)
            if handler is None:
                raise ConversionError(f"unsupported op {op} at node {name}; supported: {', '.join(sorted(ALL_OPS))}")
            result = handler(self, node)
            y, shape = result
            self.shape[name] = shape
            if y is not None:
                self.onnx_name[name] = y
        graph_outputs = []
        for tf_out, key in outputs_map.items():
            if tf_out not in self.onnx_name:
                raise ConversionError(f"output {key} ({tf_out}) is not computed by the graph")
            shape = self.shape[tf_out]
            onnx_shape = [shape[0], shape[3], shape[1], shape[2]] if len(shape) == 4 else shape
            self.nodes.append(helper.make_node("Identity", [self.onnx_name[tf_out]], [key], name=key))
            graph_outputs.append(helper.make_tensor_value_info(key, TensorProto.FLOAT, onnx_shape))
        if not graph_outputs:
            raise ConversionError("the model has no signature outputs")
        graph = helper.make_graph(self.nodes, name_hint, graph_inputs, graph_outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tfjs_to_onnx")
        model.ir_version = 7
        return model


def _identity_output(conv, node):
    src = node["input"][0]
    return conv.emit("Identity", [conv.value(src, node)], node["name"]), conv.shape[src]


def _unary(onnx_op, **attrs):
    return lambda c, n: (c.emit(onnx_op, [c.value(n["input"][0], n)], n["name"], **attrs), c.shape[n["input"][0]])


def _prelu(c, n):
    alpha = c.get_const(n["input"][1], n, "alpha").astype(np.float32)
    y = c.emit("PRelu", [c.value(n["input"][0], n), c.add_init(n["name"] + "/alpha", c.channel_param(alpha))], n["name"])
    return y, c.shape[n["input"][0]]


def _mirror_pad(c, n):
    mode = attr_s(n, "mode", "REFLECT")
    if mode != "REFLECT":
        raise ConversionError(f"node {n['name']} (MirrorPad): mode {mode} has no ONNX equivalent")
    return c.op_pad(n, "reflect")


# TF op -> handler. Keep in step with README.md.
SUPPORTED_OPS = {
    "Conv2D": lambda c, n: c.op_conv(n, depthwise=False, fused=False),
    "_FusedConv2D": lambda c, n: c.op_conv(n, depthwise=False, fused=True),
    "DepthwiseConv2dNative": lambda c, n: c.op_conv(n, depthwise=True, fused=False),
    "FusedDepthwiseConv2dNative": lambda c, n: c.op_conv(n, depthwise=True, fused=True),
    "Add": lambda c, n: c.op_binary(n, "Add"),
    "AddV2": lambda c, n: c.op_binary(n, "Add"),
    "Mul": lambda c, n: c.op_binary(n, "Mul"),
    "Relu": _unary("Relu"),
    "Relu6": _unary("Clip", min=0.0, max=6.0),
    "Sigmoid": _unary("Sigmoid"),
    "Prelu": _prelu,
    "Pad": lambda c, n: c.op_pad(n, "constant"),
    "PadV2": lambda c, n: c.op_pad(n, "constant"),
    "MirrorPad": _mirror_pad,
    "MaxPool": lambda c, n: c.op_pool(n, "MaxPool"),
    "AvgPool": lambda c, n: c.op_pool(n, "AveragePool"),
    "ResizeBilinear": lambda c, n: c.op_resize(n, "linear"),
    "ResizeNearestNeighbor": lambda c, n: c.op_resize(n, "nearest"),
    "Reshape": lambda c, n: c.op_reshape(n),
    "ConcatV2": lambda c, n: c.op_concat(n),
    "DepthToSpace": lambda c, n: c.op_depth_to_space(n),
    "Identity": _identity_output,
    "StopGradient": _identity_output,
}
ALL_OPS = set(SUPPORTED_OPS) | {"Const", "Placeholder", "Shape", "Pack", "StridedSlice"}


def convert_file(model_path, out_path=None):
    with open(model_path) as f:
        model_json = json.load(f)
    if model_json.get("format") not in (None, "graph-model"):
        raise ConversionError(f"{model_path}: format {model_json.get('format')} is not a graph model")
    weights = load_weights(model_json, os.path.dirname(os.path.abspath(model_path)))
    name = os.path.splitext(os.path.basename(model_path))[0]
    model = Converter(model_json, weights).convert(name)
    if out_path:
        tmp = out_path + ".tmp"
        onnx.save(model, tmp)
        os.replace(tmp, out_path)  # a failed run never leaves a half-written model behind
    return model


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        convert_file(argv[1], argv[2])
    except ConversionError as e:
        print(f"tfjs_to_onnx: {argv[1]}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
