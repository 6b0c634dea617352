/** A peer's address as people read it: IPv4 peers of a dual-stack socket lose their `::ffff:` prefix. */
export function remoteAddress(raw: string | undefined): string {
  if (!raw) return 'unknown';
  return raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice('::ffff:'.length) : raw;
}
