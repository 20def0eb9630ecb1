// bench/pose only: times onnxruntime-node's CPU runtime (its bundled libonnxruntime.so) on a
// converted BlazePose model, on the very input bench_pose and oracle.mjs read.
//
// Usage: node bench_ort.mjs MODEL.onnx INPUT.f32 THREADS REPEAT [OUT_DIR]
//   MODEL.onnx  one of the build's models/blazepose-{lite,full,heavy,detector}.onnx (NCHW input)
//   INPUT.f32   raw little-endian float32, NHWC, batch 1, already normalised ([0, 1] for the
//               landmark models, [-1, 1] for the detector): transposed here to NCHW, as
//               cv::dnn::blobFromImage lays it out for OpenCV DNN.
//   THREADS     intraOpNumThreads (inter-op 1, sequential execution)
//   OUT_DIR     receives <output name>.f32 (raw float32, the model's layout) of the last run
// Prints one JSON line: {"model", "backend": "onnxruntime", "threads", "runs", "median_ms",
// "min_ms", "peak_rss_mb", "version"}. One warm-up run is not timed, as in bench_pose.
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';

function peakRssMb() {
  // VmHWM: this process's own peak (resourceUsage().maxRSS carries the parent's over exec).
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main() {
  const [modelPath, inputPath, threadsArg, repeatArg, outDir] = process.argv.slice(2);
  if (!repeatArg) {
    console.error('usage: node bench_ort.mjs MODEL.onnx INPUT.f32 THREADS REPEAT [OUT_DIR]');
    process.exit(2);
  }
  const threads = Number(threadsArg);
  const repeat = Number(repeatArg);
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inputName = session.inputNames[0];
  const dims = session.inputMetadata?.[0]?.shape ?? null;
  const side = path.basename(modelPath).includes('detector') ? 224 : 256;
  const bytes = fs.readFileSync(inputPath);
  const nhwc = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  if (nhwc.length !== side * side * 3) {
    throw new Error(`${inputPath}: not a ${side}x${side}x3 float32 input`);
  }
  const nchw = new Float32Array(nhwc.length);
  const plane = side * side;
  for (let i = 0; i < plane; ++i) {
    for (let c = 0; c < 3; ++c) nchw[c * plane + i] = nhwc[i * 3 + c];
  }
  const feeds = { [inputName]: new ort.Tensor('float32', nchw, [1, 3, side, side]) };
  let out = await session.run(feeds); // warm-up: allocations, first-run planning
  const times = [];
  for (let i = 0; i < repeat; ++i) {
    const t = process.hrtime.bigint();
    out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  if (outDir) {
    fs.mkdirSync(outDir, { recursive: true });
    for (const [name, tensor] of Object.entries(out)) {
      const d = tensor.data;
      fs.writeFileSync(path.join(outDir, `${name}.f32`), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    }
  }
  const model = path.basename(modelPath, '.onnx');
  console.log(JSON.stringify({
    model,
    backend: 'onnxruntime',
    threads,
    runs: times.length,
    median_ms: times[Math.floor(times.length / 2)],
    min_ms: times[0],
    peak_rss_mb: peakRssMb(),
    version: ort.env.versions?.node ?? '',
    input_shape: dims,
  }));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
