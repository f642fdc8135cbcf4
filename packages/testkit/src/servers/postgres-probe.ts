import net from 'node:net';

/** A StartupMessage (protocol 3.0) for `user` on database `user`. */
function startupMessage(user: string): Buffer {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from(`user\0${user}\0database\0${user}\0\0`, 'utf8')]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([length, body]);
}

const terminate = Buffer.from([0x58, 0, 0, 0, 4]); // 'X', length 4

/**
 * One readiness probe over the wire protocol: sends a StartupMessage (trust authentication) and
 * resolves true once the server says ReadyForQuery, false on an error reply (such as "the
 * database system is starting up"), a refused connection or no answer within `timeoutMs`.
 */
export function probePostgres(port: number, user = 'postgres', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const socket = net.connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      if (ok) socket.end(terminate);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => socket.write(startupMessage(user)));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // Messages: a type byte, then a length that counts itself but not the type.
      while (buffered.length >= 5) {
        const type = String.fromCharCode(buffered[0] ?? 0);
        const length = buffered.readInt32BE(1);
        if (buffered.length < 1 + length) return;
        if (type === 'Z') return finish(true);
        if (type === 'E') return finish(false);
        // 'R' with a code other than 0 asks for a password: not a server the harness started.
        if (type === 'R' && buffered.readInt32BE(5) !== 0) return finish(false);
        buffered = buffered.subarray(1 + length);
      }
    });
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
  });
}
