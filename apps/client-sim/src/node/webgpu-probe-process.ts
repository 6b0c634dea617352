// Entry of the short-lived process that answers `auto`'s question (auto-backend.ts): is there a
// hardware WebGPU adapter? Prints one JSON AdapterProbe line on stdout; Dawn's teardown happens in
// this process, never in a fleet's.
import { findWebgpuAdapter } from './webgpu-adapter.ts';

const { ok, software, description } = await findWebgpuAdapter();
process.stdout.write(`${JSON.stringify({ ok, software, description })}\n`);
