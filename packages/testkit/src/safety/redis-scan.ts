import net from 'node:net';

/** A parsed RESP reply: the subset SCAN answers with. */
type Reply = string | null | Reply[] | Error;

function encode(parts: readonly string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

/** Parses one reply at `offset`; undefined while the buffer holds only part of it. */
function parse(buffer: Buffer, offset: number): { reply: Reply; next: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  switch (type) {
    case '+':
    case ':':
      return { reply: line, next: lineEnd + 2 };
    case '-':
      return { reply: new Error(line), next: lineEnd + 2 };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, next: lineEnd + 2 };
      const end = lineEnd + 2 + length;
      if (buffer.length < end + 2) return undefined;
      return { reply: buffer.toString('utf8', lineEnd + 2, end), next: end + 2 };
    }
    case '*': {
      const count = Number(line);
      const items: Reply[] = [];
      let next = lineEnd + 2;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, next);
        if (item === undefined) return undefined;
        items.push(item.reply);
        next = item.next;
      }
      return { reply: count < 0 ? null : items, next };
    }
    default:
      return { reply: new Error(`unexpected RESP type ${JSON.stringify(type)}`), next: buffer.length };
  }
}

/**
 * Every key matching `pattern` on the Redis server at 127.0.0.1:`port`, by SCAN over a raw RESP
 * socket (the checker needs no Redis client library for this one question).
 */
export function scanKeys(port: number, pattern: string, timeoutMs = 3_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const keys: string[] = [];
    let buffer = Buffer.alloc(0);
    const socket = net.connect({ host: '127.0.0.1', port });
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`redis 127.0.0.1:${port}: SCAN got no answer within ${timeoutMs} ms`)), timeoutMs);
    const scan = (cursor: string): boolean => socket.write(encode(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000']));
    socket.once('connect', () => scan('0'));
    socket.on('error', fail);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parse(buffer, 0);
      if (parsed === undefined) return;
      buffer = buffer.subarray(parsed.next);
      const reply = parsed.reply;
      if (reply instanceof Error) return fail(new Error(`redis 127.0.0.1:${port}: ${reply.message}`));
      const [cursor, batch] = Array.isArray(reply) ? reply : [];
      if (typeof cursor !== 'string' || !Array.isArray(batch)) return fail(new Error(`redis 127.0.0.1:${port}: unexpected SCAN reply`));
      for (const key of batch) if (typeof key === 'string') keys.push(key);
      if (cursor !== '0') {
        scan(cursor);
        return;
      }
      clearTimeout(timer);
      socket.end();
      resolve(keys);
    });
  });
}
