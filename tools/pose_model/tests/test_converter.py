#!/usr/bin/python3
"""Per-op tests of tfjs_to_onnx.py: tiny TF.js graph models written here, converted, run with
OpenCV 4.6 DNN (cv2.dnn.readNetFromONNX) and compared with NumPy implementations of
TensorFlow's definition of each op (NHWC).

Run: python3 -m unittest discover -s tools/pose_model/tests   (no pytest needed)
"""

import base64
import json
import os
import sys
import tempfile
import unittest

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tfjs_to_onnx  # noqa: E402

RNG = np.random.default_rng(1234)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def conv_attrs(strides=(1, 1), padding="SAME", dilations=(1, 1), fused=None):
    a = {
        "strides": {"list": {"i": ["1", str(strides[0]), str(strides[1]), "1"]}},
        "dilations": {"list": {"i": ["1", str(dilations[0]), str(dilations[1]), "1"]}},
        "padding": {"s": b64(padding)},
        "data_format": {"s": b64("NHWC")},
    }
    if fused:
        a["fused_ops"] = {"list": {"s": [b64(f) for f in fused]}}
        a["num_args"] = {"i": str(len(fused) - (1 if fused[-1] in ("Relu", "Relu6") else 0))}
    return a


class Graph:
    """Builds a TF.js graph model: model.json plus one weight shard, optionally quantized."""

    def __init__(self, input_shape):
        self.input_shape = list(input_shape)
        self.nodes = [
            {
                "name": "x",
                "op": "Placeholder",
                "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": str(d)} for d in [-1] + self.input_shape[1:]]}}},
            }
        ]
        self.weights = []  # (name, array, quantization dtype or None)

    def const(self, name, arr, quant=None):
        self.nodes.append({"name": name, "op": "Const", "attr": {}})
        self.weights.append((name, np.asarray(arr), quant))
        return name

    def node(self, name, op, inputs, attr=None):
        self.nodes.append({"name": name, "op": op, "input": list(inputs), "attr": attr or {}})
        return name

    def save(self, directory, output):
        specs, blobs = [], []
        for name, arr, quant in self.weights:
            dtype = "int32" if arr.dtype.kind in "iu" else "float32"
            spec = {"name": name, "shape": list(arr.shape), "dtype": dtype}
            if quant == "float16":
                blobs.append(arr.astype(np.float16).tobytes())
                spec["quantization"] = {"dtype": "float16"}
            elif quant == "uint8":
                lo, hi = float(arr.min()), float(arr.max())
                scale = (hi - lo) / 255.0
                q = np.round((arr - lo) / scale).astype(np.uint8)
                blobs.append(q.tobytes())
                spec["quantization"] = {"dtype": "uint8", "scale": scale, "min": lo}
            else:
                blobs.append(arr.astype(np.int32 if dtype == "int32" else np.float32).tobytes())
            specs.append(spec)
        with open(os.path.join(directory, "w.bin"), "wb") as f:
            f.write(b"".join(blobs))
        self.node("Identity", "Identity", [output])
        model = {
            "format": "graph-model",
            "modelTopology": {"node": self.nodes},
            "signature": {
                "inputs": {"x": {"name": "x:0", "dtype": "DT_FLOAT"}},
                "outputs": {"y": {"name": "Identity:0", "dtype": "DT_FLOAT"}},
            },
            "weightsManifest": [{"paths": ["w.bin"], "weights": specs}],
        }
        path = os.path.join(directory, "model.json")
        with open(path, "w") as f:
            json.dump(model, f)
        return path


def run(graph, output, x):
    """Converts the graph, runs it with OpenCV DNN on NHWC x, returns the output in TF layout."""
    with tempfile.TemporaryDirectory() as d:
        path = graph.save(d, output)
        onnx_path = os.path.join(d, "model.onnx")
        tfjs_to_onnx.convert_file(path, onnx_path)
        net = cv2.dnn.readNetFromONNX(onnx_path)
    net.setInput(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    y = net.forward("y")
    return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y


# --- NumPy references written from TensorFlow's op definitions (NHWC) ---------------------------


def tf_same(in_size, k, s, d=1):
    """TF: out = ceil(in / s); pad_along = max((out - 1) * s + eff_k - in, 0); before = along // 2."""
    eff = (k - 1) * d + 1
    out = -(-in_size // s)
    along = max((out - 1) * s + eff - in_size, 0)
    return along // 2, along - along // 2


def ref_conv(x, w, strides, padding, dilations=(1, 1), depthwise=False, pad_value=0.0):
    kh, kw = w.shape[:2]
    (sh, sw), (dh, dw) = strides, dilations
    if padding == "SAME":
        ph, pw = tf_same(x.shape[1], kh, sh, dh), tf_same(x.shape[2], kw, sw, dw)
    else:
        ph, pw = (0, 0), (0, 0)
    xp = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=pad_value).astype(np.float64)
    oh = (xp.shape[1] - ((kh - 1) * dh + 1)) // sh + 1
    ow = (xp.shape[2] - ((kw - 1) * dw + 1)) // sw + 1
    out_c = w.shape[2] * w.shape[3] if depthwise else w.shape[3]
    y = np.zeros((x.shape[0], oh, ow, out_c))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * dh : i * dh + (oh - 1) * sh + 1 : sh, j * dw : j * dw + (ow - 1) * sw + 1 : sw, :]
            if depthwise:
                y += (patch[..., :, None] * w[i, j][None, None, None]).reshape(y.shape)
            else:
                y += np.tensordot(patch, w[i, j], axes=([3], [0]))
    return y


def ref_pool(x, k, s, padding, kind):
    if padding == "SAME":
        ph, pw = tf_same(x.shape[1], k, s), tf_same(x.shape[2], k, s)
    else:
        ph, pw = (0, 0), (0, 0)
    xp = np.pad(x.astype(np.float64), ((0, 0), ph, pw, (0, 0)), constant_values=np.nan)
    oh, ow = (xp.shape[1] - k) // s + 1, (xp.shape[2] - k) // s + 1
    y = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, i * s : i * s + k, j * s : j * s + k, :]
            # TF ignores padded cells: max over real pixels, average over the real count.
            y[:, i, j] = np.nanmax(win, axis=(1, 2)) if kind == "max" else np.nanmean(win, axis=(1, 2))
    return y


def ref_resize_bilinear(x, oh, ow, align_corners, half_pixel):
    def coords(o, i):
        if align_corners and o > 1:
            src = np.arange(o) * (i - 1) / (o - 1)
        elif half_pixel:
            src = (np.arange(o) + 0.5) * i / o - 0.5
        else:
            src = np.arange(o) * i / o
        lo = np.floor(src)
        frac = src - lo
        return np.clip(lo, 0, i - 1).astype(int), np.clip(np.ceil(src), 0, i - 1).astype(int), frac

    y0, y1, fy = coords(oh, x.shape[1])
    x0, x1, fx = coords(ow, x.shape[2])
    xd = x.astype(np.float64)
    top = xd[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + xd[:, y0][:, :, x1] * fx[None, None, :, None]
    bot = xd[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + xd[:, y1][:, :, x1] * fx[None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bot * fy[None, :, None, None]


def ref_resize_nearest(x, oh, ow, half_pixel):
    def idx(o, i):
        scale = i / o
        src = (np.arange(o) + 0.5) * scale if half_pixel else np.arange(o) * scale
        return np.minimum(np.floor(src).astype(int), i - 1)

    return x[:, idx(oh, x.shape[1])][:, :, idx(ow, x.shape[2])]


class ConverterOpTests(unittest.TestCase):
    def assertClose(self, got, want, tol=1e-4):
        self.assertEqual(tuple(got.shape), tuple(want.shape))
        err = float(np.abs(got - want).max())
        self.assertLessEqual(err, tol, f"max abs difference {err}")

    def conv_case(self, in_hw, k, strides, padding, channels=(3, 4), dilations=(1, 1)):
        x = RNG.standard_normal((1, *in_hw, channels[0])).astype(np.float32)
        w = RNG.standard_normal((k, k, *channels)).astype(np.float32)
        g = Graph(x.shape)
        g.node("conv", "Conv2D", ["x", g.const("w", w)], conv_attrs(strides, padding, dilations))
        self.assertClose(run(g, "conv", x), ref_conv(x, w, strides, padding, dilations))

    def test_conv_same_stride2_even_input_pads_more_at_the_end(self):
        # 8 wide, k3, s2: TF pads 0 before and 1 after; a symmetric pad would shift every pixel.
        self.assertEqual(tf_same(8, 3, 2), (0, 1))
        self.conv_case((8, 8), 3, (2, 2), "SAME")

    def test_conv_same_stride2_odd_input(self):
        self.conv_case((9, 7), 3, (2, 2), "SAME")

    def test_conv_same_stride1_kernel5(self):
        self.conv_case((6, 6), 5, (1, 1), "SAME")

    def test_conv_valid_stride2(self):
        self.conv_case((9, 9), 3, (2, 2), "VALID")

    def test_conv_dilated(self):
        self.conv_case((9, 9), 3, (1, 1), "SAME", dilations=(2, 2))

    def test_depthwise_same_stride2_multiplier2(self):
        x = RNG.standard_normal((1, 8, 10, 3)).astype(np.float32)
        w = RNG.standard_normal((3, 3, 3, 2)).astype(np.float32)
        g = Graph(x.shape)
        g.node("dw", "DepthwiseConv2dNative", ["x", g.const("w", w)], conv_attrs((2, 2), "SAME"))
        self.assertClose(run(g, "dw", x), ref_conv(x, w, (2, 2), "SAME", depthwise=True))

    def test_fused_depthwise_bias_relu6(self):
        x = 3 * RNG.standard_normal((1, 7, 7, 4)).astype(np.float32)
        w = RNG.standard_normal((5, 5, 4, 1)).astype(np.float32)
        b = RNG.standard_normal(4).astype(np.float32)
        g = Graph(x.shape)
        g.node("dw", "FusedDepthwiseConv2dNative", ["x", g.const("w", w), g.const("b", b)], conv_attrs((1, 1), "SAME", fused=["BiasAdd", "Relu6"]))
        want = np.clip(ref_conv(x, w, (1, 1), "SAME", depthwise=True) + b, 0, 6)
        got = run(g, "dw", x)
        self.assertGreater(float((want == 6).mean()), 0.0)  # the upper clip is exercised
        self.assertClose(got, want)

    def test_fused_conv_bias_relu_and_prelu(self):
        x = RNG.standard_normal((1, 6, 6, 3)).astype(np.float32)
        w = RNG.standard_normal((1, 1, 3, 5)).astype(np.float32)
        b = RNG.standard_normal(5).astype(np.float32)
        alpha = RNG.uniform(0.1, 0.5, 5).astype(np.float32)
        g = Graph(x.shape)
        g.node("c1", "_FusedConv2D", ["x", g.const("w", w), g.const("b", b)], conv_attrs(fused=["BiasAdd", "Relu"]))
        self.assertClose(run(g, "c1", x), np.maximum(ref_conv(x, w, (1, 1), "SAME") + b, 0))
        g = Graph(x.shape)
        g.node("c2", "_FusedConv2D", ["x", g.const("w", w), g.const("b", b), g.const("a", alpha)], conv_attrs(fused=["BiasAdd", "Prelu"]))
        pre = ref_conv(x, w, (1, 1), "SAME") + b
        self.assertClose(run(g, "c2", x), np.where(pre > 0, pre, pre * alpha))

    def test_quantized_weights_are_dequantized(self):
        x = RNG.standard_normal((1, 5, 5, 2)).astype(np.float32)
        w = RNG.standard_normal((3, 3, 2, 3)).astype(np.float32)
        for quant in ("float16", "uint8"):
            g = Graph(x.shape)
            g.node("conv", "Conv2D", ["x", g.const("w", w, quant)], conv_attrs())
            if quant == "float16":
                wq = w.astype(np.float16).astype(np.float32)
            else:
                scale = (w.max() - w.min()) / 255.0
                wq = np.round((w - w.min()) / scale) * scale + w.min()
            with self.subTest(quant=quant):
                self.assertClose(run(g, "conv", x), ref_conv(x, wq, (1, 1), "SAME"), tol=1e-3)

    def test_pools_same_stride2(self):
        x = RNG.standard_normal((1, 7, 8, 3)).astype(np.float32) - 2.0  # negatives: zero padding would win a max
        for op, kind in (("MaxPool", "max"), ("AvgPool", "avg")):
            g = Graph(x.shape)
            attrs = {"ksize": {"list": {"i": ["1", "3", "3", "1"]}}, "strides": {"list": {"i": ["1", "2", "2", "1"]}}, "padding": {"s": b64("SAME")}}
            g.node("p", op, ["x"], attrs)
            with self.subTest(op=op):
                self.assertClose(run(g, "p", x), ref_pool(x, 3, 2, "SAME", kind))

    def test_maxpool_valid(self):
        x = RNG.standard_normal((1, 8, 8, 2)).astype(np.float32)
        g = Graph(x.shape)
        g.node("p", "MaxPool", ["x"], {"ksize": {"list": {"i": ["1", "2", "2", "1"]}}, "strides": {"list": {"i": ["1", "2", "2", "1"]}}, "padding": {"s": b64("VALID")}})
        self.assertClose(run(g, "p", x), ref_pool(x, 2, 2, "VALID", "max"))

    def test_resize_bilinear_modes(self):
        x = RNG.standard_normal((1, 4, 5, 2)).astype(np.float32)
        for align, half in ((False, True), (True, False), (False, False)):
            for size in ((8, 10), (7, 9)):
                g = Graph(x.shape)
                g.node("r", "ResizeBilinear", ["x", g.const("size", np.array(size, np.int32))], {"align_corners": {"b": align}, "half_pixel_centers": {"b": half}})
                with self.subTest(align_corners=align, half_pixel_centers=half, size=size):
                    self.assertClose(run(g, "r", x), ref_resize_bilinear(x, *size, align, half))

    def nearest_graph(self, x, size, half):
        g = Graph(x.shape)
        g.node("r", "ResizeNearestNeighbor", ["x", g.const("size", np.array(size, np.int32))], {"align_corners": {"b": False}, "half_pixel_centers": {"b": half}})
        return g

    def test_resize_nearest(self):
        x = RNG.standard_normal((1, 4, 5, 2)).astype(np.float32)
        for half, size in ((True, (8, 10)), (True, (12, 5)), (False, (8, 10)), (False, (7, 9)), (False, (3, 3))):
            with self.subTest(half_pixel_centers=half, size=size):
                self.assertClose(run(self.nearest_graph(x, size, half), "r", x), ref_resize_nearest(x, *size, half))

    def test_resize_nearest_half_pixel_fractional_scale_is_refused(self):
        # OpenCV 4.6 cannot express TF's half-pixel nearest at 4 -> 7; converting must not guess.
        g = self.nearest_graph(np.zeros((1, 4, 5, 2), np.float32), (7, 10), True)
        with tempfile.TemporaryDirectory() as d, self.assertRaisesRegex(tfjs_to_onnx.ConversionError, "whole-number upscale"):
            tfjs_to_onnx.convert_file(g.save(d, "r"))

    def test_pads(self):
        x = RNG.standard_normal((1, 5, 6, 3)).astype(np.float32)
        spatial = np.array([[0, 0], [1, 2], [2, 1], [0, 0]], np.int32)
        cases = (
            ("Pad", spatial, {}, np.pad(x, spatial)),
            ("Pad", np.array([[0, 0], [0, 0], [0, 0], [0, 5]], np.int32), {}, np.pad(x, [[0, 0], [0, 0], [0, 0], [0, 5]])),
            ("MirrorPad", spatial, {"mode": {"s": b64("REFLECT")}}, np.pad(x, spatial, mode="reflect")),
        )
        for op, pads, attrs, want in cases:
            g = Graph(x.shape)
            g.node("p", op, ["x", g.const("pads", pads)], attrs)
            with self.subTest(op=op, pads=pads.tolist()):
                self.assertClose(run(g, "p", x), want)

    def test_mirror_pad_symmetric_is_rejected(self):
        g = Graph((1, 4, 4, 1))
        g.node("p", "MirrorPad", ["x", g.const("pads", np.ones((4, 2), np.int32))], {"mode": {"s": b64("SYMMETRIC")}})
        with tempfile.TemporaryDirectory() as d, self.assertRaisesRegex(tfjs_to_onnx.ConversionError, "SYMMETRIC"):
            tfjs_to_onnx.convert_file(g.save(d, "p"))

    def test_reshape_flattens_in_nhwc_order(self):
        x = RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)
        g = Graph(x.shape)
        g.node("r", "Reshape", ["x", g.const("shape", np.array([-1, 24], np.int32))])
        self.assertClose(run(g, "r", x), x.reshape(1, 24))

    def test_shape_arithmetic_folds_into_reshape(self):
        # The detector's pattern: Reshape(x, Pack(StridedSlice(Shape(x), 0, 1), -1, 4)).
        x = RNG.standard_normal((1, 3, 3, 8)).astype(np.float32)
        g = Graph(x.shape)
        g.node("s", "Shape", ["x"])
        g.node("b", "StridedSlice", ["s", g.const("b0", np.array([0], np.int32)), g.const("b1", np.array([1], np.int32)), g.const("b2", np.array([1], np.int32))], {"shrink_axis_mask": {"i": "1"}})
        g.node("shape", "Pack", ["b", g.const("m1", np.array(-1, np.int32)), g.const("four", np.array(4, np.int32))], {"axis": {"i": "0"}})
        g.node("r", "Reshape", ["x", "shape"])
        self.assertClose(run(g, "r", x), x.reshape(1, -1, 4))

    def test_concat_channels_add_mul_sigmoid(self):
        x = RNG.standard_normal((1, 4, 4, 3)).astype(np.float32)
        c = RNG.standard_normal(3).astype(np.float32)
        g = Graph(x.shape)
        g.node("a", "AddV2", ["x", g.const("c", c)])
        g.node("m", "Mul", ["a", "x"])
        g.node("s", "Sigmoid", ["m"])
        g.node("cat", "ConcatV2", ["s", "x", g.const("axis", np.array(-1, np.int32))], {"N": {"i": "2"}})
        m = (x + c) * x
        self.assertClose(run(g, "cat", x), np.concatenate([1 / (1 + np.exp(-m)), x], -1))

    def test_constant_operand_after_flatten_keeps_tf_layout(self):
        x = RNG.standard_normal((1, 2, 2, 3)).astype(np.float32)
        c = RNG.standard_normal(12).astype(np.float32)
        g = Graph(x.shape)
        g.node("r", "Reshape", ["x", g.const("shape", np.array([1, 12], np.int32))])
        g.node("m", "Mul", ["r", g.const("c", c)])
        self.assertClose(run(g, "m", x), x.reshape(1, 12) * c)

    def test_depth_to_space(self):
        x = RNG.standard_normal((1, 3, 2, 8)).astype(np.float32)
        g = Graph(x.shape)
        g.node("d", "DepthToSpace", ["x"], {"block_size": {"i": "2"}, "data_format": {"s": b64("NHWC")}})
        # TF: out[h*b+i, w*b+j, c] = in[h, w, (i*b+j)*C + c]
        want = x.reshape(1, 3, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5).reshape(1, 6, 4, 2)
        self.assertClose(run(g, "d", x), want)

    def test_unsupported_op_names_op_and_node(self):
        g = Graph((1, 4, 4, 2))
        g.node("my/tanh_node", "Tanh", ["x"])
        with tempfile.TemporaryDirectory() as d:
            path = g.save(d, "my/tanh_node")
            with self.assertRaisesRegex(tfjs_to_onnx.ConversionError, r"unsupported op Tanh at node my/tanh_node"):
                tfjs_to_onnx.convert_file(path)
            # The command line reports it and fails without writing a model.
            out = os.path.join(d, "out.onnx")
            self.assertEqual(tfjs_to_onnx.main(["tfjs_to_onnx.py", path, out]), 1)
            self.assertFalse(os.path.exists(out))

    def test_shard_size_mismatch_is_an_error(self):
        g = Graph((1, 2, 2, 1))
        g.node("r", "Relu6", ["x"])
        g.const("w", np.zeros(3, np.float32))
        with tempfile.TemporaryDirectory() as d:
            path = g.save(d, "r")
            with open(os.path.join(d, "w.bin"), "ab") as f:
                f.write(b"\0\0\0\0")
            with self.assertRaisesRegex(tfjs_to_onnx.ConversionError, "bytes"):
                tfjs_to_onnx.convert_file(path)


if __name__ == "__main__":
    unittest.main()
