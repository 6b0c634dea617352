// The one host global this lib uses (timing an attack's cells). Node and browsers both provide it;
// declared by hand so the lib typechecks with no DOM and no Node types (see ../tsconfig.json).
// Same shape as the DOM declaration, so the root typecheck (DOM + Node) merges it without conflict.
interface Performance {
  now(): number;
}
declare var performance: Performance;
