// The host globals this lib uses: UTF-8 text of the checkpoint header. Every JS host (Node, browsers,
// Web Workers) provides them; declared by hand so the lib typechecks with no DOM and no Node types
// (see ../tsconfig.json), with the DOM's shapes so the root typecheck (DOM + Node) merges them.
interface TextEncoder {
  encode(input?: string): Uint8Array;
}
declare var TextEncoder: { prototype: TextEncoder; new (): TextEncoder };
interface TextDecoder {
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}
declare var TextDecoder: { prototype: TextDecoder; new (label?: string): TextDecoder };
