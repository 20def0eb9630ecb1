// The reference for the converted models: runs a TF.js graph model with TensorFlow.js on the
// WebAssembly backend, in Node, offline, and writes every output tensor as .npy.
//
// Usage: node oracle.mjs MODEL.json OUT_DIR INPUT.f32... [--repeat N]
//   INPUT.f32  raw little-endian float32 in the model's NHWC input shape (batch 1), already
//              normalised the way the model expects.
//   OUT_DIR    receives <input basename>.<output name>.npy per input and output, in TF's
//              layout (NHWC for 4-D outputs).
//   --repeat N runs each input N more times and prints the median inference time (ms) on
//              stderr as JSON: {"model":..., "backend":"wasm", "threads":..., "median_ms":...}.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';

const here = path.dirname(fileURLToPath(import.meta.url));

function npy(shape, data) {
  // NumPy format 1.0: magic, header length, a Python dict literal padded to 64 bytes.
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const buf = Buffer.alloc(10 + header.length + data.byteLength);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1;
  buf[7] = 0;
  buf.writeUInt16LE(header.length, 8);
  buf.write(header, 10, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(buf, 10 + header.length);
  return buf;
}

function peakRssMb() {
  // VmHWM is this process image's peak RSS; resourceUsage().maxRSS is carried over from the
  // parent across fork and exec on Linux, so it would report the caller's peak.
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function fileHandler(modelPath) {
  // tf.loadGraphModel only fetches over HTTP in Node without tfjs-node; this reads the files.
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
      const dir = path.dirname(modelPath);
      const specs = [];
      const shards = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(shards);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

async function main() {
  const args = process.argv.slice(2);
  let repeat = 0;
  const ri = args.indexOf('--repeat');
  if (ri >= 0) {
    repeat = Number(args[ri + 1]);
    args.splice(ri, 2);
  }
  if (args.length < 3) {
    console.error('usage: node oracle.mjs MODEL.json OUT_DIR INPUT.f32... [--repeat N]');
    process.exit(2);
  }
  const [modelPath, outDir, ...inputs] = args;
  // Offline: the backend loads its .wasm files from node_modules, never from a CDN.
  setWasmPaths(path.join(here, 'node_modules/@tensorflow/tfjs-backend-wasm/dist') + path.sep);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  await tf.ready();
  const model = await tf.loadGraphModel(fileHandler(modelPath));
  const sig = model.modelSignature;
  const inputSpec = Object.values(sig.inputs)[0];
  const dims = inputSpec.tensorShape.dim.map((d) => Number(d.size));
  dims[0] = 1;
  const outputKeys = Object.keys(sig.outputs);
  const outputNodes = outputKeys.map((k) => sig.outputs[k].name);
  fs.mkdirSync(outDir, { recursive: true });
  const times = [];
  for (const file of inputs) {
    const raw = fs.readFileSync(file);
    const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`${file}: ${data.length} floats, model wants ${dims}`);
    const x = tf.tensor(data, dims, 'float32');
    const outs = model.execute(x, outputNodes);
    const list = Array.isArray(outs) ? outs : [outs];
    const base = path.basename(file).replace(/\.f32$/, '');
    for (let i = 0; i < list.length; i++) {
      fs.writeFileSync(path.join(outDir, `${base}.${outputKeys[i]}.npy`), npy(list[i].shape, await list[i].data()));
    }
    tf.dispose(list);
    for (let r = 0; r < repeat; r++) {
      const t0 = process.hrtime.bigint();
      const o = model.execute(x, outputNodes);
      await Promise.all((Array.isArray(o) ? o : [o]).map((t) => t.data())); // wait for the result
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      tf.dispose(o);
    }
    x.dispose();
  }
  if (repeat > 0) {
    times.sort((a, b) => a - b);
    const report = {
      model: path.basename(modelPath),
      backend: 'wasm',
      threads: getThreadsCount(),
      runs: times.length,
      median_ms: times[Math.floor(times.length / 2)],
      min_ms: times[0],
      peak_rss_mb: peakRssMb(),
    };
    console.error(JSON.stringify(report));
  }
}

main().catch((e) => {
  console.error(`oracle: ${e.message}`);
  process.exit(1);
});
