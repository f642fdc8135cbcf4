import net from 'node:net';

/** One backend message: its type letter and its body (after the length). */
interface Message {
  type: string;
  body: Buffer;
}

function frame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(type === '' ? 4 : 5);
  if (type !== '') head.write(type);
  head.writeInt32BE(body.length + 4, type === '' ? 0 : 1);
  return Buffer.concat([head, body]);
}

/** The fields of an ErrorResponse, as `SEVERITY CODE: message`. */
function errorText(body: Buffer): string {
  const fields = new Map<string, string>();
  for (let offset = 0; offset < body.length && body[offset] !== 0; ) {
    const end = body.indexOf(0, offset + 1);
    fields.set(String.fromCharCode(body[offset] ?? 0), body.toString('utf8', offset + 1, end));
    offset = end + 1;
  }
  return `${fields.get('S') ?? 'ERROR'} ${fields.get('C') ?? '?'}: ${fields.get('M') ?? 'no message'}`;
}

/** The first column of a DataRow (null for SQL NULL). */
function firstColumn(body: Buffer): string | null {
  if (body.readInt16BE(0) === 0) return null;
  const length = body.readInt32BE(2);
  return length < 0 ? null : body.toString('utf8', 6, 6 + length);
}

/**
 * Runs one simple query (one statement, no parameters) on the PostgreSQL server at
 * 127.0.0.1:`port` as `user` (trust authentication, the harness's servers) over a bare
 * wire-protocol socket, and resolves with the first column of every row. The checker needs no
 * client library for its few questions (which lock rows are still live). Rejects with the
 * server's error, a refused connection, or no answer within `timeoutMs`.
 */
export function queryFirstColumn(port: number, sql: string, { user = 'postgres', timeoutMs = 3_000 } = {}): Promise<Array<string | null>> {
  return new Promise((resolve, reject) => {
    const rows: Array<string | null> = [];
    let failed: string | undefined;
    let buffered = Buffer.alloc(0);
    let queried = false;
    const socket = net.connect({ host: '127.0.0.1', port });
    const finish = (error: Error | undefined): void => {
      clearTimeout(timer);
      if (error === undefined) socket.end(frame('X', Buffer.alloc(0)));
      socket.destroy();
      if (error === undefined) resolve(rows);
      else reject(error);
    };
    const where = `postgres 127.0.0.1:${port}`;
    const timer = setTimeout(() => finish(new Error(`${where}: no answer to ${JSON.stringify(sql)} within ${timeoutMs} ms`)), timeoutMs);
    const handle = ({ type, body }: Message): void => {
      switch (type) {
        case 'R':
          // 0: authenticated; anything else asks for a password, which the harness never sets.
          if (body.readInt32BE(0) !== 0) finish(new Error(`${where}: asks for a password (not a harness server)`));
          return;
        case 'E':
          if (!queried) return finish(new Error(`${where}: ${errorText(body)}`));
          failed = errorText(body);
          return;
        case 'D':
          rows.push(firstColumn(body));
          return;
        case 'Z':
          if (!queried) {
            queried = true;
            socket.write(frame('Q', Buffer.from(`${sql}\0`, 'utf8')));
            return;
          }
          return finish(failed === undefined ? undefined : new Error(`${where}: ${failed}`));
        default:
          // ParameterStatus, BackendKeyData, RowDescription, CommandComplete, notices: not needed.
          return;
      }
    };
    socket.once('connect', () => {
      socket.write(frame('', Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from(`user\0${user}\0database\0${user}\0\0`, 'utf8')])));
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // Messages: a type byte, then a length that counts itself but not the type.
      while (buffered.length >= 5 && buffered.length >= 1 + buffered.readInt32BE(1)) {
        const length = buffered.readInt32BE(1);
        const message = { type: String.fromCharCode(buffered[0] ?? 0), body: buffered.subarray(5, 1 + length) };
        buffered = buffered.subarray(1 + length);
        handle(message);
      }
    });
    socket.once('error', (error) => finish(new Error(`${where}: ${error.message}`)));
    socket.once('close', () => finish(new Error(`${where}: connection closed before the answer`)));
  });
}
