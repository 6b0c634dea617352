import { z } from 'zod';
import { TRAINING_MODES } from '../rounds/registry.ts';
import { DefenceSpecSchema } from '../defence/spec.ts';
import { ModelSpecSchema } from '../model/spec-schema.ts';

/**
 * The splitfleet wire protocol: one zod schema per message (the runtime guard) and the TypeScript
 * types inferred from it, grouped into typed socket.io event maps for each direction. Tensors are
 * binary frames of the tensor codec, never JSON arrays of numbers.
 */
export const PROTOCOL_VERSION = 3;

// Node peers receive binary as Buffer (a Uint8Array); browsers receive ArrayBuffer.
const frame = z.preprocess(
  (v) => (v instanceof ArrayBuffer ? new Uint8Array(v) : v),
  z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'must be a binary tensor frame' }),
);
const count = z.number().int().nonnegative();

/** The training modes are the registered round strategies (rounds/registry.ts). */
export const TrainingModeSchema = z.enum(TRAINING_MODES);

export const HelloSchema = z.object({
  type: z.literal('hello'),
  protocol: z.number().int(),
  /** Position of this client in its fleet process; the server assigns the client id. */
  slot: count,
  fleetId: z.string().max(128),
  runtime: z.enum(['node', 'browser']),
  backend: z.string().max(32),
  adapter: z.string().max(256).nullable(),
  /** Browser clients: navigator.userAgent (recorded in results; optional for older clients). */
  userAgent: z.string().max(512).nullable().optional(),
});
export type Hello = z.infer<typeof HelloSchema>;

export const OptimizerSchema = z.discriminatedUnion('name', [
  z.object({ name: z.literal('sgd'), lr: z.number().positive(), momentum: z.number().min(0).max(0.999) }),
  z.object({
    name: z.literal('adam'),
    lr: z.number().positive(),
    beta1: z.number().min(0).max(0.9999),
    beta2: z.number().min(0).max(0.99999),
    epsilon: z.number().positive(),
  }),
]);

/** What a client needs to take part: its id, data and model description. */
export const AssignmentSchema = z.object({
  type: z.literal('welcome'),
  clientId: count,
  runId: z.string(),
  seed: z.number().int(),
  /** The whole model as data (zoo or config-defined): the client builds its head and tail from it. */
  model: ModelSpecSchema,
  cut: z.object({ headEnd: count, tailStart: count }),
  dataset: z.object({ name: z.string(), dir: z.string().nullable() }),
  trainIndices: z.array(count),
  /**
   * Evaluated when asked: the first this many test samples (the whole test split by default). A
   * count, not the index list: 10,000 indices were ≈ 50 KB in every welcome, paid again by every
   * summoned client of a population run.
   */
  testSamples: count,
  batchSize: z.number().int().positive(),
  optimizer: OptimizerSchema,
  mode: TrainingModeSchema,
  /** σ of Gaussian noise this client adds to its training inputs (feature-noise populations). */
  inputNoise: z.number().min(0).default(0),
  /** The defences this client applies (config `defence`; defence/spec.ts). */
  defence: z.array(DefenceSpecSchema).default([]),
});
export type Assignment = z.infer<typeof AssignmentSchema>;

export const RoundStartSchema = z.object({
  type: z.literal('roundStart'),
  round: count,
  steps: count,
  /** Head then tail weights (codec frames) the round starts from; the server always sends them, so
   * clients hold no tensors between rounds (and a resumed run restarts exactly). */
  weights: z.array(frame),
});
export type RoundStart = z.infer<typeof RoundStartSchema>;

export const ForwardRequestSchema = z.object({
  type: z.literal('forward'),
  round: count,
  step: count,
  /**
   * train: a training step; eval: an evaluation batch; craft: one PGD step of U-shaped adversarial
   * training for the coming training step `step` (answered with the middle as it stands, no update).
   */
  purpose: z.enum(['train', 'eval', 'craft']),
  z: frame,
});
export type ForwardRequest = z.infer<typeof ForwardRequestSchema>;

export const ForwardReplySchema = z.object({ type: z.literal('middle'), m: frame });
export type ForwardReply = z.infer<typeof ForwardReplySchema>;

export const BackwardRequestSchema = z.object({
  type: z.literal('backward'),
  round: count,
  step: count,
  /** craft: the backward of a craft forward — the gradient at the smashed data, the middle left unchanged. */
  purpose: z.enum(['train', 'craft']).default('train'),
  gm: frame,
});
export type BackwardRequest = z.infer<typeof BackwardRequestSchema>;

export const BackwardReplySchema = z.object({ type: z.literal('gradient'), gz: frame });
export type BackwardReply = z.infer<typeof BackwardReplySchema>;

export const RoundDoneSchema = z.object({
  type: z.literal('roundDone'),
  round: count,
  samples: count,
  steps: count,
  lossSum: z.number(),
  computeMs: z.number().nonnegative(),
  /** Head then tail weights after the round. */
  weights: z.array(frame),
});
export type RoundDone = z.infer<typeof RoundDoneSchema>;

export const EvaluateRequestSchema = z.object({
  type: z.literal('evaluate'),
  round: count,
  /** Weights to evaluate: the global model in shared modes, the client's own in local mode. */
  weights: z.array(frame),
});
export type EvaluateRequest = z.infer<typeof EvaluateRequestSchema>;

export const EvalResultSchema = z.object({
  type: z.literal('evalDone'),
  round: count,
  samples: count,
  lossSum: z.number(),
  correctByClass: z.array(count),
  totalByClass: z.array(count),
});
export type EvalResult = z.infer<typeof EvalResultSchema>;

export const ErrorCodes = [
  'bad-message', 'bad-protocol', 'unknown-event', 'unknown-client', 'not-expected', 'bad-shape',
  'bad-dtype', 'non-finite', 'bad-frame', 'internal', 'too-large', 'rate-limited', 'already-connected',
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

export interface ErrorReply {
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
}

export interface Shutdown {
  readonly type: 'shutdown';
  readonly reason: string;
}

export type Ack<T> = (reply: T | ErrorReply) => void;

/** Client → server events. */
export interface ClientToServerEvents {
  hello: (msg: Hello, ack: Ack<Assignment>) => void;
  forward: (msg: ForwardRequest, ack: Ack<ForwardReply>) => void;
  backward: (msg: BackwardRequest, ack: Ack<BackwardReply>) => void;
  roundDone: (msg: RoundDone) => void;
  evalDone: (msg: EvalResult) => void;
}

/** Server → client events. */
export interface ServerToClientEvents {
  roundStart: (msg: RoundStart) => void;
  evaluate: (msg: EvaluateRequest) => void;
  protocolError: (msg: ErrorReply) => void;
  shutdown: (msg: Shutdown) => void;
}

export function errorReply(code: ErrorCode, message: string): ErrorReply {
  return { type: 'error', code, message };
}

export function isErrorReply(x: unknown): x is ErrorReply {
  return typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'error';
}

/** Parses an inbound message; returns the value or an error reply naming the first bad field. */
export function parseMessage<S extends z.ZodType>(schema: S, raw: unknown): { ok: true; value: z.infer<S> } | { ok: false; error: ErrorReply } {
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const path = issue?.path.join('.') || '(message)';
  return { ok: false, error: errorReply('bad-message', `${path}: ${issue?.message ?? 'invalid'}`) };
}
