import { afterEach } from 'vitest';
import { closeTracked } from './helpers.ts';

// every end-to-end test: servers, fleets and sockets registered with closeAfterTest are closed after
// it, passed or failed
afterEach(closeTracked);
