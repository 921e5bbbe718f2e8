// node:http loaded through require, not an ESM import. On Node >= 22.5 building the ESM namespace of
// node:http reads its lazy WebSocket, CloseEvent and MessageEvent getters, which loads undici: about
// 13 MB more RSS in every process that imports it (Node 24: 58.5 against 45.3 MB for a bare script).
// Nothing of warden uses those; import `http` from here, and types from 'node:http' with `import type`.

import { createRequire } from 'node:module';

export const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
